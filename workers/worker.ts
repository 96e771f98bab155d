import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PreforkError } from '../src/exit-codes.js';
import { type RawHandle, surviveMasterLoss } from '../src/internals.js';
import { createLogger, type Logger, reopenLogFile } from '../src/log.js';
import { type MasterMessage, type WorkerMessage, type WorkerSettings, isMasterMessage } from '../src/messages.js';
import { loadApp } from './app-loader.js';
import { captureAppOutput } from './app-output.js';
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

/**
 * The worker opens the log file itself. If it cannot (the directory went away since the master
 * checked it), serving beats logging: it logs to stdout and says why.
 */
function openLog(s: WorkerSettings): Logger {
  const who = { role: 'worker', worker: slot } as const;
  try {
    return createLogger(s, who);
  } catch (err) {
    const fallback = createLogger({ ...s, logFile: null }, who);
    fallback.error({ event: 'log-file-failed', file: s.logFile, reason: (err as Error).message }, `${(err as Error).message}; logging to stdout`);
    return fallback;
  }
}

/** SIGUSR1, from the master or sent to this worker directly: open the log file again by name. */
function reopenLogs(why: string): void {
  // Not booted yet: the logger opens the file by its name when it is created.
  if (log === null) return;
  try {
    const file = reopenLogFile(log);
    if (file !== null) log.info({ event: 'reopen-logs', file, reason: why }, `reopened log file ${file}`);
  } catch (err) {
    log.error({ event: 'reopen-failed', file: settings?.logFile, reason: (err as Error).message }, (err as Error).message);
  }
}

async function boot(s: WorkerSettings): Promise<void> {
  log = openLog(s);
  // Before the app loads: what it prints at import time is its output too.
  captureAppOutput(log);
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

const LOOP_RESOLUTION_MS = 20;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });

function beat(): void {
  if (serving === null) return;
  // Mean delay since the last beat: how late this worker's timers run, i.e. its event-loop lag.
  // The sampling timer's own period is part of every sample: lag is what comes on top.
  const lagMs = Number.isFinite(loopDelay.mean) ? Math.max(0, loopDelay.mean / 1e6 - LOOP_RESOLUTION_MS) : 0;
  loopDelay.reset();
  send({ type: 'heartbeat', rss: process.memoryUsage.rss(), requests: serving.requests, inflight: serving.inflight, stats: serving.stats, lagMs });
}

/** Beats from the main thread: a blocked event loop falls silent, which is the point. */
function startHeartbeat(intervalMs: number): void {
  loopDelay.enable();
  beat();
  setInterval(beat, intervalMs).unref();
}

/** The last beat before exit carries the final counts, so the master's totals miss nothing. */
function finalBeat(): Promise<void> {
  return new Promise((resolve) => {
    if (serving === null || !process.connected) return resolve();
    const timer = setTimeout(resolve, 500);
    process.send?.({ type: 'heartbeat', rss: process.memoryUsage.rss(), requests: serving.requests, inflight: 0, stats: serving.stats, lagMs: 0 }, undefined, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
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
  await finalBeat();
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
    case 'reopen-logs':
      reopenLogs('asked by the master');
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
/**
 * Ctrl-C and systemd's default KillMode signal the whole process group, so a worker may get the
 * master's TERM itself: it keeps serving for --shutdown-delay too, as the master does, instead
 * of defeating the delay by draining at once. A second signal drains now.
 */
let signalledAt: NodeJS.Signals | null = null;
function onStopSignal(signal: NodeJS.Signals): void {
  const delay = settings?.shutdownDelay ?? 0;
  if (signalledAt !== null || delay === 0 || serving === null || draining) {
    void drain(signal);
    return;
  }
  signalledAt = signal;
  log?.info({ event: 'shutdown-delay', signal, delay }, `${signal}: serving ${delay} s more (--shutdown-delay) before draining`);
  setTimeout(() => void drain(`${signal}, after --shutdown-delay ${delay} s`), delay * 1000);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => onStopSignal(signal));
// main.ts's no-op SIGUSR1 handler stays installed (it keeps the inspector closed even before this runs).
process.on('SIGUSR1', () => reopenLogs('SIGUSR1'));
process.on('uncaughtException', (err) => {
  (log ?? console).error({ event: 'uncaught-exception', err }, `uncaught exception: ${err.message}`);
  process.exit(1);
});
send({ type: 'hello' });
