import cluster from 'node:cluster';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { type RawHandle, refuseBindsFor } from './internals.js';
import type { Listener } from './listeners.js';
import type { Logger } from './log.js';
import { type WorkerMessage, type WorkerSettings, isWorkerMessage } from './messages.js';
import type { Config } from './options.js';
import { installSignalHandlers } from './signals.js';
import { type Transition, WorkerHandle } from './worker-handle.js';

type MasterState = 'starting' | 'running' | 'stopping';

export interface MasterDeps {
  config: Config;
  listeners: readonly Listener[];
  log: Logger;
  settings: WorkerSettings;
  /** The compiled worker entry (dist/workers/main.js). */
  workerEntry: string;
}

/** Deaths sooner than this after spawn count as a crash loop and back off. */
const MIN_UPTIME_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

/**
 * The master loop: owns the worker table, reacts to signals and worker messages, replaces
 * workers that die. It never touches a client connection and never binds.
 */
export class Master {
  readonly #workers = new Set<WorkerHandle>();
  readonly #pendingSpawns = new Map<number, NodeJS.Timeout>();
  readonly #bootFailures = new Map<WorkerHandle, string>();
  #state: MasterState = 'starting';
  #exitCode: ExitCodeValue = ExitCode.ok;
  #crashStreak = 0;
  #stopTimer: NodeJS.Timeout | null = null;
  #removeSignalHandlers: () => void = () => {};
  #resolveStopped: (code: ExitCodeValue) => void = () => {};

  constructor(private readonly deps: MasterDeps) {}

  /** Forks the workers; resolves with the exit code once the master has stopped. */
  run(): Promise<ExitCodeValue> {
    const stopped = new Promise<ExitCodeValue>((resolve) => (this.#resolveStopped = resolve));
    this.#removeSignalHandlers = installSignalHandlers({
      stop: () => this.stop('graceful', 'signal'),
      stopNow: () => this.stop('immediate', 'SIGQUIT'),
      reopenLogs: () => this.deps.log.info({ event: 'reopen-logs' }, 'SIGUSR1: nothing to reopen (logging to stdout)'),
    });
    cluster.setupPrimary({ exec: this.deps.workerEntry, args: [], silent: false });
    for (let slot = 0; slot < this.deps.config.workers; slot += 1) this.#spawn(slot);
    return stopped;
  }

  #spawn(slot: number): WorkerHandle {
    const worker = cluster.fork({ PREFORK_WORKER_ID: String(slot) });
    refuseBindsFor(worker, (req) => {
      this.deps.log.warn(
        { event: 'bind-refused', worker: slot, pid: worker.process.pid, address: req.address, port: req.port },
        `refused worker ${slot}'s request to bind ${req.address ?? '*'}:${req.port}: the master binds only the configured addresses`,
      );
    });
    const handle = new WorkerHandle(
      slot,
      {
        pid: worker.process.pid,
        send: (message, raw) => void worker.send(message, raw as never),
        kill: (signal) => void worker.process.kill(signal),
      },
      (t) => this.#onTransition(t),
    );
    this.#workers.add(handle);
    this.deps.log.info({ event: 'worker', worker: slot, pid: handle.pid, state: 'booting' }, `worker ${slot} (pid ${handle.pid}) booting`);
    worker.on('message', (message: unknown) => {
      if (isWorkerMessage(message)) this.#onMessage(handle, message);
    });
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) => this.#onExit(handle, code, signal));
    // EPIPE when sending to a worker that just died: its exit event tells the rest.
    worker.on('error', (err) => this.deps.log.debug({ event: 'worker-ipc-error', worker: slot, err: err.message }, 'worker IPC error'));
    return handle;
  }

  #onMessage(handle: WorkerHandle, message: WorkerMessage): void {
    switch (message.type) {
      case 'hello': {
        const { listeners, settings } = this.deps;
        handle.send({ type: 'start', settings, handles: listeners.length });
        listeners.forEach((listener, index) => handle.send({ type: 'handle', index }, listener.handle as RawHandle));
        break;
      }
      case 'ready':
        if (handle.state === 'booting') handle.transition('ready', 'serving');
        break;
      case 'boot-failed':
        this.#bootFailures.set(handle, message.reason);
        break;
    }
  }

  #onTransition({ worker, from, to, reason }: Transition): void {
    this.deps.log.info(
      { event: 'worker', worker: worker.slot, pid: worker.pid, state: to, from, reason },
      `worker ${worker.slot} (pid ${worker.pid}) ${to}: ${reason}`,
    );
    if (to === 'ready' && this.#state === 'starting' && this.#allReady()) {
      this.#state = 'running';
      this.deps.log.info(
        { event: 'ready', workers: this.#workers.size, addresses: this.deps.listeners.map((l) => l.url) },
        `ready: ${this.#workers.size} workers serving ${this.deps.listeners.map((l) => l.url).join(', ')}`,
      );
    }
  }

  #allReady(): boolean {
    let ready = 0;
    for (const w of this.#workers) if (w.state === 'ready') ready += 1;
    return ready >= this.deps.config.workers;
  }

  #onExit(handle: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    const before = handle.state;
    const bootFailure = this.#bootFailures.get(handle);
    this.#bootFailures.delete(handle);
    const reason =
      before === 'draining' ? `drained (${how})` : before === 'booting' ? `failed to boot (${bootFailure ?? how})` : `died unexpectedly (${how})`;
    handle.transition('exited', reason);
    this.#workers.delete(handle);

    if (this.#state === 'stopping') {
      if (this.#workers.size === 0) this.#finish();
      return;
    }
    if (before === 'booting' && this.#state === 'starting') {
      // The app cannot start: stop rather than fork the same failure forever.
      const message = bootFailure ?? `worker ${handle.slot} exited with ${how} before it was ready`;
      this.#fatal(message, ExitCode.appLoad);
      return;
    }
    if (before !== 'draining') this.#scheduleReplacement(handle);
  }

  #scheduleReplacement(dead: WorkerHandle): void {
    const delay = this.#backoff(dead.uptime());
    if (delay === 0) {
      this.#spawn(dead.slot);
      return;
    }
    this.deps.log.warn({ event: 'backoff', worker: dead.slot, delayMs: delay }, `worker ${dead.slot} died within ${MIN_UPTIME_MS} ms of starting: next start in ${delay} ms`);
    this.#pendingSpawns.set(
      dead.slot,
      setTimeout(() => {
        this.#pendingSpawns.delete(dead.slot);
        if (this.#state !== 'stopping') this.#spawn(dead.slot);
      }, delay),
    );
  }

  /** Exponential back-off for crash loops; a worker that lived MIN_UPTIME_MS resets it. */
  #backoff(uptimeMs: number): number {
    if (uptimeMs >= MIN_UPTIME_MS) {
      this.#crashStreak = 0;
      return 0;
    }
    this.#crashStreak += 1;
    return Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.#crashStreak - 1));
  }

  #fatal(message: string, code: ExitCodeValue): void {
    this.deps.log.fatal({ event: 'fatal', reason: message }, message);
    process.stderr.write(`prefork: ${message}\n`);
    this.#exitCode = code;
    this.stop('immediate', 'fatal error');
  }

  /**
   * graceful: every worker drains (up to --graceful-timeout, then it is killed).
   * immediate: every worker is killed now. A graceful stop asked for twice becomes immediate.
   */
  stop(mode: 'graceful' | 'immediate', why: string): void {
    if (this.#state === 'stopping' && mode === 'graceful') mode = 'immediate';
    this.#state = 'stopping';
    for (const timer of this.#pendingSpawns.values()) clearTimeout(timer);
    this.#pendingSpawns.clear();
    this.deps.log.info({ event: 'stopping', mode, reason: why, workers: this.#workers.size }, `stopping (${mode}): ${why}`);
    if (mode === 'immediate') {
      for (const w of this.#workers) w.kill();
    } else {
      for (const w of this.#workers) w.drain('master stopping');
      if (this.#stopTimer === null) {
        this.#stopTimer = setTimeout(() => {
          this.deps.log.warn({ event: 'graceful-timeout', workers: this.#workers.size }, 'graceful timeout: killing the workers still busy');
          for (const w of this.#workers) w.kill();
        }, this.deps.config.gracefulTimeout * 1000);
      }
    }
    if (this.#workers.size === 0) this.#finish();
  }

  #finish(): void {
    if (this.#stopTimer !== null) clearTimeout(this.#stopTimer);
    this.#removeSignalHandlers();
    this.#resolveStopped(this.#exitCode);
  }
}
