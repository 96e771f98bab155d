import type net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PreforkError, appLoadError } from '../src/exit-codes.js';
import { type RawHandle, handleKind, surviveMasterLoss, tcpAddress } from '../src/internals.js';
import { createLogger, type Logger, reopenLogFile } from '../src/log.js';
import { type MasterMessage, type WorkerMessage, type WorkerSettings, isMasterMessage } from '../src/messages.js';
import { type LoadedApp, loadApp, nothingToServe } from './app-loader.js';
import { captureAppOutput } from './app-output.js';
import { DropIn } from './drop-in.js';
import type { ListenCall } from './listen-hook.js';
import { dropPrivileges } from './drop-privileges.js';
import { Housekeeping } from './housekeeping.js';
import { Serving, type ServingHooks } from './serve.js';
import { Threads } from './threads.js';

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
let app: LoadedApp | null = null;
let threads: Threads | null = null;
/** Drop-in mode, between loading the app and its listen() call. */
let waitingForListen = false;

const housekeeping = new Housekeeping(() => log);

/** A failed send surfaces as 'disconnect' (handled below), never as an unheard 'error' event. */
const sendFailed = (): void => {};

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message, undefined, {}, sendFailed);
}

/**
 * The worker opens the log file itself, as the user it runs as. If it cannot (the directory
 * went away since the master checked it, or --user may not write it), serving beats logging: it
 * logs to stdout, says why, and tries the file again at the next reopen (USR1).
 */
function openLog(s: WorkerSettings): Logger {
  const who = { role: 'worker', worker: slot } as const;
  try {
    return createLogger(s, who);
  } catch (err) {
    const fallback = createLogger(s, who, { orStdout: true });
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
  // Before the log file opens: a worker running as --user writes only where that user may. Then
  // before the app's first line runs: it never executes with the master's privileges.
  let dropFailed: unknown = null;
  try {
    if (s.user !== null) dropPrivileges(s.user);
  } catch (err) {
    dropFailed = err;
  }
  // Half-dropped privileges open nothing: the reason goes to stdout.
  log = dropFailed === null ? openLog(s) : createLogger({ ...s, logFile: null }, { role: 'worker', worker: slot });
  // Before the app loads: what it prints at import time is its output too.
  captureAppOutput(log);
  process.title = `prefork worker ${slot}${s.name ? ` [${s.name}]` : ''}`;
  try {
    if (dropFailed !== null) throw dropFailed;
    await serveApp(s, log);
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

/** Loads the app and serves it on the master's sockets: its export, or the server it listen()s on (drop-in mode). */
async function serveApp(s: WorkerSettings, logger: Logger): Promise<void> {
  const hooks: ServingHooks = {
    nearLimit: () => send({ type: 'recycle-soon', reason: 'max-requests' }),
    atLimit: () => {
      send({ type: 'draining', reason: 'max-requests' });
      void drain(`served --max-requests ${s.maxRequests}`);
    },
    resume: () => send({ type: 'resume' }),
    connectionsMoved: beatSoon,
  };
  // Before the app loads: it may call listen() (drop-in mode) or runTask() while it does.
  const dropIn = new DropIn(logger, s.urls, (call) => serveAppServer(s, call, hooks, logger));
  if (s.threads > 0) threads = await Threads.start(s.threads, s.taskTimeoutMs, logger);
  const onAppError = (err: unknown): void => serving?.onAppError(err);
  app = await Promise.race([loadApp(s.app, s.cwd, s.factory, onAppError, () => dropIn.moduleLoaded()), dropIn.failed]);
  // Fail (with the reason) a little before the master's own --boot-timeout would kill us blind.
  const waitMs = s.bootTimeout * 1000 - process.uptime() * 1000 - 250;
  waitingForListen = app.servable === null;
  const outcome = await dropIn.settle(app.servable !== null, addressOf(handles[0], s.urls[0]), waitMs);
  waitingForListen = false;
  if (outcome === 'nothing') throw appLoadError(nothingToServe(s.app, app.unservable, s.bootTimeout));
  if (outcome === 'export') {
    serving = new Serving(app.servable, s, logger, slot, hooks);
    await serving.listen(handles);
  }
}

/** Drop-in mode: serve the server the app called listen() on, on the master's sockets. */
async function serveAppServer(s: WorkerSettings, call: ListenCall, hooks: ServingHooks, logger: Logger): Promise<void> {
  if (s.tls !== null && handles.some((h) => handleKind(h) === 'tcp') && !(call.server instanceof process.getBuiltinModule('node:tls').Server)) {
    throw appLoadError(
      `app ${s.app} serves itself with listen(${call.target}) (drop-in mode), and prefork cannot add --certfile's HTTPS to the app's own server: export the app (module.exports = app) instead`,
    );
  }
  serving = new Serving(null, s, logger, slot, hooks);
  await serving.adopt(call.server, handles);
}

/** Where the app is served, as net.Server#address() would say it: for apps whose own listen() is a no-op. */
function addressOf(handle: RawHandle | undefined, url: string | undefined): net.AddressInfo | string | null {
  if (handle === undefined) return null;
  if (handleKind(handle) === 'tcp') return tcpAddress(handle);
  return url?.replace(/^unix:/, '') ?? null;
}

const LOOP_RESOLUTION_MS = 20;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });

/** Stats, balance counts, loop lag and memory for the master: on a timer, so guarded (see Housekeeping). */
function beat(): void {
  housekeeping.run('heartbeat', beatNow);
}

function beatNow(): void {
  if (serving === null) return;
  // Mean delay since the last beat: how late this worker's timers run, i.e. its event-loop lag.
  // The sampling timer's own period is part of every sample: lag is what comes on top.
  const lagMs = Number.isFinite(loopDelay.mean) ? Math.max(0, loopDelay.mean / 1e6 - LOOP_RESOLUTION_MS) : 0;
  loopDelay.reset();
  send({ type: 'heartbeat', rss: housekeeping.rss(), requests: serving.requests, inflight: serving.inflight, keepAlive: serving.reportKeptAlive(), canShed: serving.canShed, stats: serving.stats, lagMs });
}

/**
 * A burst of connects (or closes) is reported within EARLY_BEAT_MS, once the burst is over, so the
 * master balances on fresh counts; at most one early beat per window, whatever the load.
 */
const EARLY_BEAT_MS = 50;
let earlyBeat: NodeJS.Timeout | null = null;
function beatSoon(): void {
  if (earlyBeat !== null || settings === null || settings.heartbeatMs === 0) return;
  earlyBeat = setTimeout(() => {
    beat();
    earlyBeat = null;
  }, EARLY_BEAT_MS);
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
    process.send?.({ type: 'heartbeat', rss: housekeeping.rss(), requests: serving.requests, inflight: 0, keepAlive: 0, canShed: false, stats: serving.stats, lagMs: 0 }, undefined, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A worker that cannot accept again after shedding serves nobody new: it drains and is replaced. */
async function relisten(index: number, handle: RawHandle): Promise<void> {
  try {
    await serving?.relisten(index, handle);
  } catch (err) {
    log?.error({ event: 'relisten-failed', reason: (err as Error).message }, `cannot accept again after shedding connections: ${(err as Error).message}`);
    void drain('cannot accept again');
  }
}

let draining = false;

/**
 * Within --graceful-timeout: finish the requests (no new ones can come), then the app's
 * shutdown(), then wait for upgraded connections (WebSockets) to close, then the threads.
 */
async function drain(why: string): Promise<void> {
  if (draining && serving?.draining) return;
  draining = true;
  if (serving === null) {
    // Nothing served yet: nothing to finish. Still loading: boot() drains when it is done.
    if (settings === null || log === null || waitingForListen) process.exit(0);
    return;
  }
  const deadline = Date.now() + (settings?.gracefulTimeout ?? 0) * 1000;
  log?.info({ event: 'draining', reason: why }, `draining: ${why}`);
  await serving.drain(deadline);
  if (app?.shutdown) await appShutdown(app.shutdown, deadline);
  await serving.closeUpgraded(deadline);
  await threads?.destroy();
  log?.info({ event: 'drained', requests: serving.requests }, 'drained, exiting');
  await finalBeat();
  process.exit(0);
}

/** The app's shutdown() export (close database pools there), bounded by what is left of the drain. */
async function appShutdown(shutdown: () => unknown, deadline: number): Promise<void> {
  log?.info({ event: 'app-shutdown' }, "calling the app's shutdown()");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()))));
  try {
    const result = await Promise.race([Promise.resolve().then(shutdown), timedOut]);
    if (result === 'timeout') log?.warn({ event: 'app-shutdown-timeout' }, "graceful timeout: the app's shutdown() did not finish");
    else log?.info({ event: 'app-shutdown-done' }, "the app's shutdown() finished");
  } catch (err) {
    log?.error({ event: 'app-shutdown-failed', err }, `the app's shutdown() failed: ${(err as Error)?.message ?? String(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

function onMessage(message: MasterMessage, handle: unknown): void {
  switch (message.type) {
    case 'start':
      settings = message.settings;
      expectedHandles = message.handles;
      if (expectedHandles === 0) void boot(settings);
      break;
    case 'handle':
      // Serving already: the master sent it again after we shed connections.
      if (serving !== null) void relisten(message.index, handle as RawHandle);
      else {
        handles[message.index] = handle as RawHandle;
        if (settings !== null && handles.filter(Boolean).length === expectedHandles) void boot(settings);
      }
      break;
    case 'shed':
      serving?.shed(message.count);
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
