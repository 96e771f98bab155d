import { PreforkError } from '../src/exit-codes.js';
import { type RawHandle, surviveMasterLoss } from '../src/internals.js';
import { createLogger, type Logger } from '../src/log.js';
import { type MasterMessage, type WorkerMessage, type WorkerSettings, isMasterMessage } from '../src/messages.js';
import { loadApp } from './app-loader.js';
import { dropPrivileges } from './drop-privileges.js';
import { Serving } from './serve.js';

/**
 * Runs inside each cluster worker: receive settings and the master's sockets, load the app,
 * serve, and drain when told to, when signalled, or when the master disappears.
 */
const slot = Number(process.env.PREFORK_WORKER_ID ?? 0);
let settings: WorkerSettings | null = null;
let expectedHandles = 0;
const handles: RawHandle[] = [];
let log: Logger | null = null;
let serving: Serving | null = null;

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

async function boot(s: WorkerSettings): Promise<void> {
  log = createLogger(s, { role: 'worker', worker: slot });
  process.title = `prefork worker ${slot}${s.name ? ` [${s.name}]` : ''}`;
  const onAppError = (err: unknown): void => serving?.onAppError(err);
  try {
    // Before the app's first line runs: it never executes with the master's privileges.
    if (s.user !== null) dropPrivileges(s.user);
    const app = await loadApp(s.app, s.cwd, s.factory, onAppError);
    serving = new Serving(app, s, log, slot, {
      nearLimit: () => send({ type: 'recycle-soon', reason: 'max-requests' }),
      atLimit: () => {
        send({ type: 'draining', reason: 'max-requests' });
        void drain(`served --max-requests ${s.maxRequests}`);
      },
    });
    await serving.listen(handles);
  } catch (err) {
    const reason = err instanceof PreforkError ? err.message : `worker failed to start: ${(err as Error)?.stack ?? String(err)}`;
    log.error({ event: 'boot-failed', reason }, reason);
    send({ type: 'boot-failed', reason });
    process.exit(err instanceof PreforkError ? err.exitCode : 1);
  }
  if (draining) {
    void drain('drain requested while booting');
    return;
  }
  send({ type: 'ready' });
  if (s.heartbeatMs > 0) startHeartbeat(s.heartbeatMs);
}

/** Beats from the main thread: a blocked event loop falls silent, which is the point. */
function startHeartbeat(intervalMs: number): void {
  setInterval(() => {
    if (serving === null) return;
    send({ type: 'heartbeat', rss: process.memoryUsage.rss(), requests: serving.requests, inflight: serving.inflight });
  }, intervalMs).unref();
}

let draining = false;

async function drain(why: string): Promise<void> {
  if (draining && serving?.draining) return;
  draining = true;
  if (serving === null) {
    // Nothing served yet (or still loading): nothing to finish.
    if (settings === null || log === null) process.exit(0);
    return;
  }
  log?.info({ event: 'draining', reason: why }, `draining: ${why}`);
  await serving.drain();
  log?.info({ event: 'drained', requests: serving.requests }, 'drained, exiting');
  process.exit(0);
}

function onMessage(message: MasterMessage, handle: unknown): void {
  switch (message.type) {
    case 'start':
      settings = message.settings;
      expectedHandles = message.handles;
      if (expectedHandles === 0) void boot(settings);
      break;
    case 'handle':
      handles[message.index] = handle as RawHandle;
      if (settings !== null && handles.filter(Boolean).length === expectedHandles) void boot(settings);
      break;
    case 'drain':
      void drain('asked by the master');
      break;
  }
}

surviveMasterLoss();
process.on('message', (message: unknown, handle: unknown) => {
  if (isMasterMessage(message)) onMessage(message, handle);
});
process.on('disconnect', () => {
  log?.warn({ event: 'master-gone' }, 'the master is gone: finishing requests, then exiting');
  void drain('master gone');
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void drain(signal));
process.on('uncaughtException', (err) => {
  (log ?? console).error({ event: 'uncaught-exception', err }, `uncaught exception: ${err.message}`);
  process.exit(1);
});
send({ type: 'hello' });
