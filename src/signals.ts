import { takeEarlySignals } from './early-signals.js';

/**
 * The one signal table of the master: each signal maps to one master action. Handlers only call
 * the action; the master decides what it means in its current state (a second TERM while
 * stopping escalates to an immediate stop, for example).
 */
export type MasterAction = 'stop' | 'stopNow' | 'reload' | 'scaleUp' | 'scaleDown' | 'reopenLogs' | 'upgrade';

export interface SignalEntry {
  readonly signal: NodeJS.Signals;
  readonly action: MasterAction;
  readonly doc: string;
}

export const MASTER_SIGNALS: readonly SignalEntry[] = [
  { signal: 'SIGTERM', action: 'stop', doc: 'graceful stop: after --shutdown-delay, stop listening (new connections refused at once, socket files removed), drain up to --graceful-timeout, remove the pidfile, exit 0; a second TERM/INT stops at once' },
  { signal: 'SIGINT', action: 'stop', doc: 'same as TERM (Ctrl-C)' },
  { signal: 'SIGQUIT', action: 'stopNow', doc: 'immediate stop: kill the workers, remove socket files and the pidfile, exit 0' },
  { signal: 'SIGHUP', action: 'reload', doc: 'rolling restart: reread the config, new workers load the app again, old ones drain once the new are ready' },
  { signal: 'SIGTTIN', action: 'scaleUp', doc: 'one worker more' },
  { signal: 'SIGTTOU', action: 'scaleDown', doc: 'one worker fewer (never below 1); the removed one drains' },
  // Without a handler Node opens its inspector on 127.0.0.1:9229 on SIGUSR1: anyone local
  // could then run code in the master.
  { signal: 'SIGUSR1', action: 'reopenLogs', doc: 'reopen --log-file by its name in the master and every worker (and never open the Node inspector)' },
  // As in gunicorn and unicorn. Node's default would kill the master.
  { signal: 'SIGUSR2', action: 'upgrade', doc: 'hot upgrade: start a new master from the same command line (read afresh from disk) that inherits every socket; once its workers serve, this master drains and exits; refused as PID 1' },
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
