import type net from 'node:net';
import { PreforkError, appLoadError } from '../shared/exit-codes.js';
import { type RawHandle, handleKind, tcpAddress } from '../shared/internals.js';
import { createLogger, type Logger, reopenLogFile } from '../shared/log.js';
import type { MasterMessage, WorkerSettings } from '../shared/messages.js';
import { type LoadedApp, loadApp, nothingPending, nothingToServe } from './app-loader.js';
import { captureAppOutput } from './app-output.js';
import { resolveAppPath } from '../shared/app-path.js';
import { DropIn } from './drop-in.js';
import { pipeAddress } from './app-server.js';
import { activeResources, appIdle } from './idle.js';
import { dropPrivileges } from './drop-privileges.js';
import { Heartbeat } from './heartbeat.js';
import { Housekeeping } from './housekeeping.js';
import { HttpServers, type ServingHooks } from './http-servers.js';
import type { ListenCall } from './listen-hook.js';
import { sendToMaster as send } from './master-channel.js';
import { Threads } from './threads.js';

/**
 * One cluster worker, from the inside (the master's view of it is src/master/worker-handle.ts): receive
 * settings and the master's sockets, load the app, serve, and drain when told to, when signalled,
 * or when the master disappears. main.ts constructs it and routes process events to it.
 */
export class WorkerProcess {
  #settings: WorkerSettings | null = null;
  #expectedHandles = 0;
  readonly #handles: RawHandle[] = [];
  #log: Logger | null = null;
  #servers: HttpServers | null = null;
  #app: LoadedApp | null = null;
  #threads: Threads | null = null;
  #heartbeat: Heartbeat | null = null;
  /** Drop-in mode, between loading the app and its listen() call. */
  #waitingForListen = false;
  /** 'ready' sent; before it the master ignores 'resume', so one asked for waits for it. */
  #ready = false;
  #resumeAfterReady = false;
  #draining = false;
  /** The first TERM/INT sent to this worker itself, while --shutdown-delay runs. */
  #signalled: NodeJS.Signals | null = null;
  readonly #housekeeping = new Housekeeping(() => this.#log);

  constructor(readonly slot: number) {}

  onMessage(message: MasterMessage, handle: unknown): void {
    switch (message.type) {
      case 'start':
        this.#settings = message.settings;
        this.#expectedHandles = message.handles;
        if (this.#expectedHandles === 0) void this.#boot(message.settings);
        break;
      case 'handle':
        this.#received(message.index, handle as RawHandle);
        break;
      case 'shed':
        this.#servers?.shed(message.count);
        break;
      case 'drain':
        void this.drain('asked by the master');
        break;
      case 'reopen-logs':
        this.reopenLogs('asked by the master');
        break;
    }
  }

  #received(index: number, handle: RawHandle): void {
    // Serving already: the master sent it again after we shed connections.
    if (this.#servers !== null) {
      void this.#relisten(index, handle);
      return;
    }
    this.#handles[index] = handle;
    const s = this.#settings;
    if (s !== null && this.#handles.filter(Boolean).length === this.#expectedHandles) void this.#boot(s);
  }

  async #boot(s: WorkerSettings): Promise<void> {
    // Before the log file opens: a worker running as --user writes only where that user may. Then
    // before the app's first line runs: it never executes with the master's privileges.
    let dropFailed: unknown = null;
    try {
      if (s.user !== null) dropPrivileges(s.user);
    } catch (err) {
      dropFailed = err;
    }
    // Half-dropped privileges open nothing: the reason goes to stdout.
    const log = dropFailed === null ? this.#openLog(s) : createLogger({ ...s, logFile: null }, this.#who);
    this.#log = log;
    // Before the app loads: what it prints at import time is its output too.
    captureAppOutput(log);
    process.title = `prefork worker ${this.slot}${s.name ? ` [${s.name}]` : ''}`;
    this.#heartbeat = new Heartbeat(s.heartbeatMs, this.#housekeeping, () => this.#servers);
    try {
      if (dropFailed !== null) throw dropFailed;
      await this.#serveApp(s, log);
    } catch (err) {
      const reason =
        err instanceof PreforkError ? err.message : `worker failed to start: ${(err as Error)?.stack ?? String(err)}`;
      // The app's own error, with its stack and code frame: the one-line reason cannot carry them.
      const detail = (err as { detail?: unknown }).detail;
      log.error({ event: 'boot-failed', reason, ...(typeof detail === 'string' && { stack: detail }) }, reason);
      send({ type: 'boot-failed', reason });
      process.exit(err instanceof PreforkError ? err.exitCode : 1);
    }
    if (this.#draining) {
      void this.drain('drain requested while booting');
      return;
    }
    send({ type: 'ready' });
    this.#ready = true;
    if (this.#resumeAfterReady) send({ type: 'resume' });
    this.#heartbeat.start();
  }

  get #who(): { role: 'worker'; worker: number } {
    return { role: 'worker', worker: this.slot };
  }

  /**
   * The worker opens the log file itself, as the user it runs as. If it cannot (the directory
   * went away since the master checked it, or --user may not write it), serving beats logging: it
   * logs to stdout, says why, and tries the file again at the next reopen (USR1).
   */
  #openLog(s: WorkerSettings): Logger {
    try {
      return createLogger(s, this.#who);
    } catch (err) {
      const fallback = createLogger(s, this.#who, { orStdout: true });
      const reason = (err as Error).message;
      fallback.error({ event: 'log-file-failed', file: s.logFile, reason }, `${reason}; logging to stdout`);
      return fallback;
    }
  }

  /** SIGUSR1, from the master or sent to this worker directly: open the log file again by name. */
  reopenLogs(why: string): void {
    const log = this.#log;
    // Not booted yet: the logger opens the file by its name when it is created.
    if (log === null) return;
    try {
      const file = reopenLogFile(log);
      if (file !== null) log.info({ event: 'reopen-logs', file, reason: why }, `reopened log file ${file}`);
    } catch (err) {
      const reason = (err as Error).message;
      log.error({ event: 'reopen-failed', file: this.#settings?.logFile, reason }, reason);
    }
  }

  #hooks(s: WorkerSettings): ServingHooks {
    return {
      nearLimit: () => send({ type: 'recycle-soon', reason: 'max-requests' }),
      atLimit: () => {
        send({ type: 'draining', reason: 'max-requests' });
        void this.drain(`served --max-requests ${s.maxRequests}`);
      },
      resume: () => {
        if (this.#ready) send({ type: 'resume' });
        else this.#resumeAfterReady = true;
      },
      connectionsMoved: () => this.#heartbeat?.soon(),
    };
  }

  /** Loads the app and serves it on the master's sockets: its export, or the server it listen()s on (drop-in mode). */
  async #serveApp(s: WorkerSettings, log: Logger): Promise<void> {
    const hooks = this.#hooks(s);
    // Before the app loads: it may call listen() (drop-in mode) or runTask() while it does.
    const serve = (call: ListenCall): Promise<void> => this.#serveAppServer(s, call, hooks, log);
    const dropIn = new DropIn(log, s.urls, serve, () => this.#servers);
    if (s.threads > 0) this.#threads = await Threads.start(s.threads, s.taskTimeoutMs, log);
    // As if `node APP ARGS` had run: CLI entry points (next, json-server) read their command here.
    process.argv = [process.execPath, resolveAppPath(s.app, s.cwd), ...s.args];
    // Prefork's own pending work, so that the app's alone tells whether a listen() may still come.
    const baseline = activeResources();
    const loading = loadApp(s.app, s.cwd, s.factory, () => dropIn.moduleLoaded());
    const app = await Promise.race([loading, dropIn.failed]);
    this.#app = app;
    // Fail (with the reason) a little before the master's own --boot-timeout would kill us blind.
    const waitMs = s.bootTimeout * 1000 - process.uptime() * 1000 - 250;
    this.#waitingForListen = app.servable === null;
    const address = addressOf(this.#handles[0], s.urls[0]);
    const idle = (ownTimers: number): boolean => appIdle(baseline, { Timeout: ownTimers });
    const outcome = await dropIn.settle(app.servable !== null, address, waitMs, idle);
    this.#waitingForListen = false;
    if (outcome === 'nothing') throw appLoadError(nothingToServe(s.app, app.unservable, s.bootTimeout));
    if (outcome === 'idle') throw appLoadError(nothingPending(s.app, app.unservable));
    if (outcome === 'export') {
      this.#servers = new HttpServers(app.servable, s, log, hooks);
      await this.#servers.listen(this.#handles);
    }
  }

  /** Drop-in mode: serve the server the app called listen() on, on the master's sockets. */
  async #serveAppServer(s: WorkerSettings, call: ListenCall, hooks: ServingHooks, log: Logger): Promise<void> {
    const tcp = this.#handles.some((h) => handleKind(h) === 'tcp');
    if (s.tls !== null && tcp && !(call.server instanceof process.getBuiltinModule('node:tls').Server)) {
      throw appLoadError(
        `app ${s.app} serves itself with listen(${call.target}) (drop-in mode), and prefork cannot add --certfile's HTTPS to the app's own server: export the app (module.exports = app) instead`,
      );
    }
    this.#servers = new HttpServers(null, s, log, hooks);
    await this.#servers.adopt(call.server, this.#handles, call.pipe);
  }

  /** A worker that cannot accept again (after shedding, or the app's close()) serves nobody new: it is replaced. */
  async #relisten(index: number, handle: RawHandle): Promise<void> {
    try {
      await this.#servers?.relisten(index, handle);
    } catch (err) {
      const reason = (err as Error).message;
      this.#log?.error(
        { event: 'relisten-failed', reason },
        `cannot accept again on a socket the master sent again: ${reason}`,
      );
      void this.drain('cannot accept again');
    }
  }

  /**
   * Within --graceful-timeout: finish the requests (no new ones can come), then the app's
   * shutdown(), then wait for upgraded connections (WebSockets) to close, then the threads.
   */
  async drain(why: string): Promise<void> {
    const servers = this.#servers;
    if (this.#draining && servers?.draining) return;
    this.#draining = true;
    if (servers === null) {
      // Nothing served yet: nothing to finish. Still loading: boot() drains when it is done.
      if (this.#settings === null || this.#log === null || this.#waitingForListen) process.exit(0);
      return;
    }
    const deadline = Date.now() + (this.#settings?.gracefulTimeout ?? 0) * 1000;
    this.#log?.info({ event: 'draining', reason: why }, `draining: ${why}`);
    await servers.drain(deadline);
    if (this.#app?.shutdown) await this.#appShutdown(this.#app.shutdown, deadline);
    await servers.closeUpgraded(deadline);
    await this.#threads?.destroy();
    this.#log?.info({ event: 'drained', requests: servers.requests }, 'drained, exiting');
    await this.#heartbeat?.final();
    process.exit(0);
  }

  /** The app's shutdown() export (close database pools there), bounded by what is left of the drain. */
  async #appShutdown(shutdown: () => unknown, deadline: number): Promise<void> {
    const log = this.#log;
    log?.info({ event: 'app-shutdown' }, "calling the app's shutdown()");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
    });
    try {
      const result = await Promise.race([Promise.resolve().then(shutdown), timedOut]);
      if (result === 'timeout')
        log?.warn({ event: 'app-shutdown-timeout' }, "graceful timeout: the app's shutdown() did not finish");
      else log?.info({ event: 'app-shutdown-done' }, "the app's shutdown() finished");
    } catch (err) {
      log?.error(
        { event: 'app-shutdown-failed', err },
        `the app's shutdown() failed: ${(err as Error)?.message ?? String(err)}`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * TERM or INT sent to this worker itself. Ctrl-C and systemd's default KillMode signal the whole
   * process group, so a worker may get the master's TERM: it keeps serving for --shutdown-delay
   * too, as the master does, instead of defeating the delay by draining at once. A second signal
   * drains now.
   */
  stopSignal(signal: NodeJS.Signals): void {
    const delay = this.#settings?.shutdownDelay ?? 0;
    if (this.#signalled !== null || delay === 0 || this.#servers === null || this.#draining) {
      void this.drain(signal);
      return;
    }
    this.#signalled = signal;
    this.#log?.info(
      { event: 'shutdown-delay', signal, delay },
      `${signal}: serving ${delay} s more (--shutdown-delay) before draining`,
    );
    setTimeout(() => void this.drain(`${signal}, after --shutdown-delay ${delay} s`), delay * 1000);
  }

  /** The IPC channel closed: the master died or was killed. */
  masterGone(): void {
    this.#log?.warn({ event: 'master-gone' }, 'the master is gone: finishing requests, then exiting');
    void this.drain('master gone');
  }

  crashed(err: Error): never {
    (this.#log ?? console).error({ event: 'uncaught-exception', err }, `uncaught exception: ${err.message}`);
    process.exit(1);
  }
}

/** Where the app is served, as net.Server#address() would say it: for apps whose own listen() is a no-op. */
function addressOf(handle: RawHandle | undefined, url: string | undefined): net.AddressInfo | string | null {
  if (handle === undefined) return null;
  if (handleKind(handle) === 'tcp') return tcpAddress(handle);
  return pipeAddress(url);
}
