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
  {
    code: ExitCode.ok,
    name: 'ok',
    doc: 'clean stop (TERM, INT, QUIT, `prefork stop`), or a successful `--check-config`',
  },
  {
    code: ExitCode.unexpected,
    name: 'unexpected',
    doc: 'something prefork did not anticipate: a bug report is welcome',
  },
  {
    code: ExitCode.usage,
    name: 'usage',
    doc: 'bad usage or configuration: unknown option, bad value, bad bind string, unreadable config file, `--certfile` without `--keyfile` (or the reverse), a certificate or key file that cannot be read or does not load, a key that does not belong to the certificate, `--headers-timeout` longer than `--request-timeout`, a duration over 2147483 s, the same address bound twice (or a unix path that is also `--control`), an APP that is no file but a (misspelt) command, a JS config whose default export rejects or never settles, socket path over 107 bytes, `unix:@NAME` on a Node that cannot serve it, a bad `--pidfile` path (missing directory, a directory, a file that holds no pid), unknown `--user`/`--group`/`--socket-owner`, `--user` when not started as root',
  },
  {
    code: ExitCode.bind,
    name: 'bind',
    doc: 'cannot bind: address in use, permission denied, the socket path is a live socket / regular file / directory / symlink, missing directory, `fd://N` not a listening socket (a pipe, an unbound or connected socket), two binds of one port that overlap once resolved (`localhost:P` and `127.0.0.1:P`, `0.0.0.0:P` and `127.0.0.1:P`), the socket file cannot be given to `--socket-owner`; the `--pidfile` is held by a running prefork master',
  },
  {
    code: ExitCode.appLoad,
    name: 'appLoad',
    doc: 'the app cannot load: file not found, it throws at import, nothing servable, or the first workers failed to boot',
  },
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
