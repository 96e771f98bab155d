/**
 * The one table of exit codes. README's "Exit codes" section mirrors it; a change here is a
 * change to a documented contract that supervisors (systemd, Docker, CI scripts) rely on.
 */
export const ExitCode = {
  /** Clean stop (TERM, INT, QUIT) or a successful --check-config. */
  ok: 0,
  /** Something we did not anticipate; a bug report is welcome. */
  unexpected: 1,
  /** Bad usage or configuration: options, env, config file, bind strings. */
  usage: 2,
  /** A listening socket could not be opened: in use, permission, not a socket. */
  bind: 3,
  /** The app cannot load: missing file, throws at import, nothing servable. */
  appLoad: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the process with a documented exit code and a one-line message. */
export class PreforkError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
    this.name = 'PreforkError';
  }
}

export const usageError = (message: string): PreforkError => new PreforkError(message, ExitCode.usage);
export const bindError = (message: string): PreforkError => new PreforkError(message, ExitCode.bind);
export const appLoadError = (message: string): PreforkError => new PreforkError(message, ExitCode.appLoad);
