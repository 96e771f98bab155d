import cluster from 'node:cluster';
import { refuseBindsFor } from '../shared/internals.js';
import { isWorkerMessage } from '../shared/messages.js';
import type { Spawn } from './worker-handle.js';

/**
 * The real `spawn(slot)` the master is given: cluster.fork and its wiring. Kept apart so the
 * master loop can be driven by fake workers in unit tests.
 */
export function clusterSpawn(opts: { workerEntry: string; cwd: string }): Spawn {
  let setUp = false;
  return (slot, events) => {
    if (!setUp) cluster.setupPrimary({ exec: opts.workerEntry, args: [], silent: false, cwd: opts.cwd });
    setUp = true;
    // systemd's variables are the master's: a worker that notified or fed the watchdog would
    // speak for the whole service.
    const worker = cluster.fork({
      PREFORK_WORKER_ID: String(slot),
      NOTIFY_SOCKET: undefined,
      WATCHDOG_USEC: undefined,
      WATCHDOG_PID: undefined,
    });
    refuseBindsFor(worker, (req) => {
      const at = `${req.address ?? '*'}:${req.port}`;
      events.log.warn(
        { event: 'bind-refused', address: req.address, port: req.port },
        `asked to bind ${at}: refused, the master binds only the configured addresses`,
      );
    });
    worker.on('message', (message: unknown) => {
      if (isWorkerMessage(message)) events.message(message);
    });
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) => events.exit(code, signal));
    // EPIPE when sending to a worker that just died: its exit event tells the rest.
    worker.on('error', (err) => {
      events.log.debug({ event: 'worker-ipc-error', err: err.message }, 'worker IPC error');
    });
    return {
      pid: worker.process.pid,
      send: (message, raw) => void worker.send(message, raw as never),
      kill: (signal) => void worker.process.kill(signal),
    };
  };
}
