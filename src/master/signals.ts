import { takeEarlySignals } from '../shared/early-signals.js';

/**
 * The one signal table of the master: each signal maps to one master action. Handlers only call
 * the action; the master decides what it means in its current state (a second TERM while
 * stopping escalates to an immediate stop, for example).
 */
export type MasterAction = 'stop' | 'stopNow' | 'reload' | 'scaleUp' | 'scaleDown' | 'reopenLogs' | 'upgrade';

export interface SignalEntry {
  readonly signal: NodeJS.Signals;
  readonly action: MasterAction;
  /** One line for --help. */
  readonly doc: string;
  /** The reference's text (docs/signals.md, markdown); doc when absent. */
  readonly detail?: string;
}

export const MASTER_SIGNALS: readonly SignalEntry[] = [
  {
    signal: 'SIGTERM',
    action: 'stop',
    doc: 'graceful stop: after --shutdown-delay, stop listening (new connections refused at once, socket files removed), drain up to --graceful-timeout, remove the pidfile, exit 0; a second TERM/INT stops at once',
    detail:
      "graceful stop: after `--shutdown-delay` (default 0; workers keep serving meanwhile), the drain starts: every socket stops listening (a new connection is refused at once, never queued into a backlog nobody accepts from; the unix socket files are removed then), workers finish in-flight requests, answer every open connection's next request with `Connection: close`, close idle keep-alive connections when `--keep-alive-timeout` expires (never earlier: closing an idle keep-alive socket races the client's next request), await the app's `shutdown()`, and leave WebSockets open until they close; at `--graceful-timeout` what is still open is cut; pidfile removed; exit 0. A second `TERM`/`INT` stops at once.",
  },
  { signal: 'SIGINT', action: 'stop', doc: 'same as TERM (Ctrl-C)' },
  {
    signal: 'SIGQUIT',
    action: 'stopNow',
    doc: 'immediate stop: kill the workers, remove socket files and the pidfile, exit 0',
    detail:
      'immediate stop: sockets closed (new connections refused), workers killed, socket files and pidfile removed, exit 0',
  },
  {
    signal: 'SIGHUP',
    action: 'reload',
    doc: 'rolling restart: reread the config, new workers load the app again, old ones drain once the new are ready',
    detail:
      'rolling restart: reread the config file, then replace every worker, `--reload-batch` at a time; each new worker loads the app from disk again and the old one drains only once the new one serves. A new worker that fails to boot stops the reload and the old workers keep serving. Options marked *needs a restart* in the [options reference](options.md) (`bind`, `socket-mode`, `control`, `metrics-bind`, `log-file`, `user`, …) are logged as ignored (`reload-ignored`) until a restart or hot upgrade; the certificate files are read again, so a renewed certificate goes live.',
  },
  {
    signal: 'SIGTTIN',
    action: 'scaleUp',
    doc: 'one worker more',
    detail:
      "one worker more; with a `{worker}` bind, the new slot's own socket is bound first (one that cannot be bound refuses the scale-up: `scale-refused`)",
  },
  {
    signal: 'SIGTTOU',
    action: 'scaleDown',
    doc: 'one worker fewer (never below 1); the removed one drains',
    detail:
      "one worker fewer (never below 1); the removed one drains; with a `{worker}` bind, its slot's socket is closed and its file removed once it has exited",
  },
  // Without a handler Node opens its inspector on 127.0.0.1:9229 on SIGUSR1: anyone local
  // could then run code in the master.
  {
    signal: 'SIGUSR1',
    action: 'reopenLogs',
    doc: 'reopen --log-file by its name in the master and every worker (and never open the Node inspector)',
    detail:
      'reopen the `--log-file` by its name (after logrotate renamed it): the master reopens its own and tells every worker to reopen theirs; a worker sent `USR1` directly reopens its own. Handled by every prefork process, so Node never opens its inspector on 127.0.0.1:9229 (which would let any local user run code in it)',
  },
  // As in gunicorn and unicorn. Node's default would kill the master.
  {
    signal: 'SIGUSR2',
    action: 'upgrade',
    doc: 'hot upgrade: start a new master from the same command line (read afresh from disk) that inherits every socket; once its workers serve, this master drains and exits; refused as PID 1',
    detail:
      "hot upgrade: start a new master from the same command line, read afresh from disk (new prefork, new Node binary, new app), that inherits every socket without ever closing it; once its workers serve, this master hands over the pidfile (and systemd's `MAINPID`), drains its workers and exits 0. A new master that fails leaves this one serving. Refused (logged) during start-up or stop, while an upgrade runs, and as PID 1. See [Hot upgrade](hot-upgrade.md#hot-upgrade)",
  },
];

/** Installs the table's handlers; returns a function that removes them. */
export function installSignalHandlers(actions: Record<MasterAction, () => void>): () => void {
  const installed = MASTER_SIGNALS.map(({ signal, action }) => {
    const handler = (): void => actions[action]();
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });
  // Signals that arrived while we were starting (see early-signals.ts) take effect now.
  for (const signal of takeEarlySignals()) {
    const entry = MASTER_SIGNALS.find((s) => s.signal === signal);
    if (entry) actions[entry.action]();
  }
  return () => installed.forEach((remove) => remove());
}
