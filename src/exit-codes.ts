/**
 * The one table of exit codes. docs/exit-codes.md is generated from EXIT_CODES below; a change here is a
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

/** The reference (docs/exit-codes.md) is generated from this list. */
export const EXIT_CODES: ReadonlyArray<{ code: ExitCodeValue; name: keyof typeof ExitCode; doc: string }> = [
  { code: ExitCode.ok, name: 'ok', doc: 'clean stop (TERM, INT, QUIT, `prefork stop`), or a successful `--check-config`' },
  { code: ExitCode.unexpected, name: 'unexpected', doc: 'something prefork did not anticipate: a bug report is welcome' },
  { code: ExitCode.usage, name: 'usage', doc: 'bad usage or configuration: an option, env value, config file or bind string; one line names the value and what is expected, and nothing was created or removed' },
  { code: ExitCode.bind, name: 'bind', doc: 'a listening socket could not be opened: address in use, permission denied, a path that is not a stale socket, an `fd://` that is not a listening socket; or the pidfile is held by a running master' },
  { code: ExitCode.appLoad, name: 'appLoad', doc: 'the app cannot load: file not found, it throws at import, nothing servable, or the first workers failed to boot' },
];

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
