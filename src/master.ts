import cluster from 'node:cluster';
import { Balancer } from './balance.js';
import { CrashBackoff } from './backoff.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { HealthMonitor, heartbeatInterval } from './health.js';
import { type RawHandle, refuseBindsFor } from './internals.js';
import type { Listener } from './listeners.js';
import { type Logger, logFileOf, reopenLogFile } from './log.js';
import { type WorkerMessage, type WorkerSettings, isWorkerMessage } from './messages.js';
import type { Config } from './options.js';
import { PoolStats, type RestartReason } from './pool-stats.js';
import { type PoolStatus, poolStatus } from './status.js';
import { installSignalHandlers } from './signals.js';
import { timerMs } from './timers.js';
import type { SystemdNotifier } from './systemd.js';
import { type Transition, WorkerHandle } from './worker-handle.js';

type MasterState = 'starting' | 'running' | 'stopping';

/** Why a worker is replaced; logged, and the label of prefork_worker_restarts_total later. */
export type ReplaceReason = 'reload' | 'max-requests' | 'max-memory';

export interface MasterDeps {
  config: Config;
  listeners: readonly Listener[];
  log: Logger;
  /** Settings for new workers, derived from a config (called again after a reload). */
  settingsFor: (config: Config) => WorkerSettings;
  /** Reads the configuration afresh (config file, env, argv) for SIGHUP. */
  reloadConfig: () => Promise<Config>;
  /** The compiled worker entry (dist/workers/main.js). */
  workerEntry: string;
  /** systemd readiness notifications, when NOTIFY_SOCKET is set. */
  notifier: SystemdNotifier | null;
  /** Hot upgrade (SIGUSR2): starts a new master; abort() stops one still starting when we stop. */
  upgrade?: { start(): void; abort(why: string): void } | null;
  /**
   * Called once, when every initial worker serves, with the addresses (a hot upgrade's new master
   * then tells the old one; the programmatic API resolves `ready`).
   */
  onReady?: (addresses: string[]) => void;
  /**
   * How to stop when the app cannot start: 'immediate' (kill the workers) unless some of them
   * may already be serving clients beside another master's (a hot upgrade's new master): 'graceful'.
   */
  fatalStop?: 'graceful' | 'immediate';
  /**
   * A stop's drain begins (not a hot upgrade's hand-over): close the master's copies of the
   * listeners, so that with the workers' closed too new connections are refused at once.
   */
  stopListening?: () => void;
}

const HEALTH_CHECK_MS = 250;
/** After a shed order, two checks pass before the next: the shed and the reconnects take milliseconds under load. */
const BALANCE_QUIET_MS = 2 * HEALTH_CHECK_MS;
const CAUSE: Record<ReplaceReason, RestartReason> = { reload: 'reload', 'max-requests': 'max_requests', 'max-memory': 'max_memory' };
/** Options a reload cannot apply (new sockets, privileges, the one log file every process shares): logged as ignored. */
const RESTART_ONLY: ReadonlyArray<keyof Config> = ['bind', 'socketMode', 'backlog', 'name', 'config', 'certfile', 'keyfile', 'logFile', 'pidfile', 'user', 'group', 'socketOwner', 'control', 'metricsBind', 'reload'];

/**
 * The master loop: owns the worker table, reacts to signals and worker messages, keeps every
 * slot served. Planned replacements surge first: the new worker must be ready before the old one
 * is told to drain, so capacity never dips. It never touches a client connection and never binds.
 */
export class Master {
  readonly #workers = new Set<WorkerHandle>();
  /** New worker -> the worker it replaces once ready. */
  readonly #successors = new Map<WorkerHandle, { old: WorkerHandle; reason: ReplaceReason }>();
  /** Workers waiting for a replacement slot in the batch, in order. */
  readonly #retiring = new Map<WorkerHandle, ReplaceReason>();
  readonly #pendingSpawns = new Map<number, NodeJS.Timeout>();
  readonly #bootFailures = new Map<WorkerHandle, string>();
  readonly #killReasons = new Map<WorkerHandle, string>();
  readonly #generationOf = new WeakMap<WorkerHandle, number>();
  readonly #health: HealthMonitor;
  readonly #balancer: Balancer;
  /** Why a worker is on its way out, for restart counts by reason. */
  readonly #exitCause = new Map<WorkerHandle, RestartReason>();
  readonly stats = new PoolStats();
  readonly startedAt = Date.now();
  #config: Config;
  #settings: WorkerSettings;
  #desired: number;
  #generation = 0;
  #state: MasterState = 'starting';
  #exitCode: ExitCodeValue = ExitCode.ok;
  readonly #backoff = new CrashBackoff(() => this.#config.minUptime * 1000);
  #stopTimer: NodeJS.Timeout | null = null;
  /** Pending start of the drain while --shutdown-delay runs. */
  #delayTimer: NodeJS.Timeout | null = null;
  #healthTimer: NodeJS.Timeout | null = null;
  #removeSignalHandlers: () => void = () => {};
  /** False once stopListening() ran: no worker gets the listeners again. */
  #listening = true;
  #resolveStopped: (code: ExitCodeValue) => void = () => {};

  constructor(private readonly deps: MasterDeps) {
    this.#config = deps.config;
    this.#settings = deps.settingsFor(deps.config);
    this.#desired = deps.config.workers;
    this.#health = new HealthMonitor(this.#healthLimits());
    this.#balancer = new Balancer(BALANCE_QUIET_MS);
  }

  get #log(): Logger {
    return this.deps.log;
  }

  /** The configuration in force (it changes with a SIGHUP reload). */
  get config(): Config {
    return this.#config;
  }

  /** Forks the workers; resolves with the exit code once the master has stopped. */
  run(): Promise<ExitCodeValue> {
    const stopped = new Promise<ExitCodeValue>((resolve) => (this.#resolveStopped = resolve));
    cluster.setupPrimary({ exec: this.deps.workerEntry, args: [], silent: false, cwd: this.#settings.cwd });
    for (let slot = 0; slot < this.#desired; slot += 1) this.#spawn(slot);
    this.#healthTimer = setInterval(() => {
      this.#checkHealth();
      this.#balance();
    }, HEALTH_CHECK_MS);
    // Last: a signal that arrived during start-up is replayed here and may stop us at once.
    this.#removeSignalHandlers = installSignalHandlers({
      stop: () => this.stop('graceful', 'signal'),
      stopNow: () => this.stop('immediate', 'SIGQUIT'),
      reload: () => void this.reload(),
      scaleUp: () => this.scale(this.#desired + 1),
      scaleDown: () => this.scale(this.#desired - 1),
      reopenLogs: () => this.reopenLogs(),
      upgrade: () => this.#upgrade(),
    });
    return stopped;
  }

  // ── spawning ────────────────────────────────────────────────────────────────────────────

  #spawn(slot: number): WorkerHandle {
    // systemd's variables are the master's: a worker that notified or fed the watchdog would
    // speak for the whole service.
    const worker = cluster.fork({ PREFORK_WORKER_ID: String(slot), NOTIFY_SOCKET: undefined, WATCHDOG_USEC: undefined, WATCHDOG_PID: undefined });
    refuseBindsFor(worker, (req) => {
      this.#log.warn(
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
    this.#generationOf.set(handle, this.#generation);
    this.#log.info({ event: 'worker', worker: slot, pid: handle.pid, state: 'booting' }, `worker ${slot} (pid ${handle.pid}) booting`);
    worker.on('message', (message: unknown) => {
      if (isWorkerMessage(message)) this.#onMessage(handle, message);
    });
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) => this.#onExit(handle, code, signal));
    // EPIPE when sending to a worker that just died: its exit event tells the rest.
    worker.on('error', (err) => this.#log.debug({ event: 'worker-ipc-error', worker: slot, err: err.message }, 'worker IPC error'));
    const bootTimer = setTimeout(() => {
      if (handle.state !== 'booting') return;
      // The worker's own reason, when it sent one, says more.
      if (!this.#bootFailures.has(handle)) this.#bootFailures.set(handle, `not ready within --boot-timeout ${this.#config.bootTimeout} s`);
      handle.kill();
    }, this.#config.bootTimeout * 1000);
    worker.once('exit', () => clearTimeout(bootTimer));
    return handle;
  }

  #settingsForNewWorker(): WorkerSettings {
    const { maxRequests, maxRequestsJitter } = this.#config;
    const jitter = maxRequests > 0 && maxRequestsJitter > 0 ? Math.floor(Math.random() * (maxRequestsJitter + 1)) : 0;
    return { ...this.#settings, maxRequests: maxRequests > 0 ? maxRequests + jitter : 0 };
  }

  #onMessage(handle: WorkerHandle, message: WorkerMessage): void {
    switch (message.type) {
      case 'hello':
        handle.send({ type: 'start', settings: this.#settingsForNewWorker(), handles: this.deps.listeners.length });
        this.#sendHandles(handle);
        break;
      case 'resume':
        if (handle.state === 'ready') this.#sendHandles(handle);
        break;
      case 'ready':
        if (handle.state === 'booting') handle.transition('ready', 'serving');
        break;
      case 'boot-failed':
        this.#bootFailures.set(handle, message.reason);
        break;
      case 'heartbeat': {
        this.stats.beat(handle, { requests: message.requests, inflight: message.inflight, keepAlive: message.keepAlive, canShed: message.canShed, rss: message.rss, lagMs: message.lagMs, stats: message.stats });
        const verdict = this.#health.beat(handle, message.rss);
        if (verdict !== null) {
          this.#log.warn({ event: 'worker-bloated', worker: handle.slot, pid: handle.pid, rss: message.rss }, `worker ${handle.slot} (pid ${handle.pid}): ${verdict.detail}`);
          this.#replace(handle, 'max-memory');
        }
        break;
      }
      case 'recycle-soon':
        // The limit is the worker's to enforce; we only make sure its successor is on the way.
        if (handle.state === 'ready') this.#startSuccessor(handle, message.reason);
        break;
      case 'draining':
        // Already draining means we asked first (its successor is ready): nothing to add.
        if (handle.state !== 'ready') break;
        handle.transition('draining', message.reason);
        this.#exitCause.set(handle, 'max_requests');
        this.#startSuccessor(handle, message.reason);
        break;
    }
  }

  #sendHandles(handle: WorkerHandle): void {
    if (!this.#listening) return;
    this.deps.listeners.forEach((listener, index) => handle.send({ type: 'handle', index }, listener.handle as RawHandle));
  }

  /** The worker farthest over its share of the pool's connections sheds the excess (balance.ts). */
  #balance(): void {
    if (this.#state !== 'running' || !this.#config.balance) return;
    const pool: Array<{ worker: WorkerHandle; connections: number }> = [];
    for (const worker of this.#workers) {
      const v = worker.state === 'ready' ? this.stats.vitals(worker) : undefined;
      if (v?.canShed === true) pool.push({ worker, connections: v.keepAlive });
    }
    const order = this.#balancer.decide(pool);
    if (order === null) return;
    const { worker: { worker, connections }, count } = order;
    const counts = pool.map((p) => p.connections);
    this.#log.debug(
      { event: 'shed', worker: worker.slot, pid: worker.pid, count, pool: counts },
      `worker ${worker.slot} holds ${connections} of ${counts.reduce((a, b) => a + b, 0)} kept-alive connections: shedding ${count}`,
    );
    worker.send({ type: 'shed', count });
  }

  #onTransition({ worker, from, to, reason }: Transition): void {
    this.#log.info(
      { event: 'worker', worker: worker.slot, pid: worker.pid, state: to, from, reason },
      `worker ${worker.slot} (pid ${worker.pid}) ${to}: ${reason}`,
    );
    if (to === 'draining' && this.#state !== 'stopping') this.#limitDrain(worker);
    if (to !== 'ready') return;
    this.#health.watch(worker);
    const replaced = this.#successors.get(worker);
    if (replaced !== undefined) {
      this.#successors.delete(worker);
      if (replaced.old.state === 'ready') this.#exitCause.set(replaced.old, CAUSE[replaced.reason]);
      replaced.old.drain(`replaced by pid ${worker.pid} (${replaced.reason})`);
      this.#pump();
    } else if ((this.#generationOf.get(worker) ?? 0) < this.#generation) {
      this.#replace(worker, 'reload');
    }
    if (this.#state === 'starting' && this.#readyCount() >= this.#desired) {
      this.#state = 'running';
      const urls = this.deps.listeners.map((l) => l.url);
      this.#log.info({ event: 'ready', workers: this.#readyCount(), addresses: urls }, `ready: ${this.#readyCount()} workers serving ${urls.join(', ')}`);
      void this.deps.notifier?.ready(this.status());
      this.deps.onReady?.(urls);
    }
    this.#reportReloadDone();
  }

  /** A worker drains for at most --graceful-timeout (it enforces that itself; this is the backstop). */
  #limitDrain(worker: WorkerHandle): void {
    const grace = timerMs(this.#config.gracefulTimeout, 1000);
    setTimeout(() => {
      if (worker.state !== 'draining') return;
      this.#killReasons.set(worker, `killed: still draining after --graceful-timeout ${this.#config.gracefulTimeout} s`);
      worker.kill();
    }, grace).unref();
  }

  /** The pool as `prefork status` and the metrics show it. */
  snapshot(now = Date.now()): PoolStatus {
    return poolStatus(
      {
        config: this.#config,
        state: this.#state,
        startedAt: this.startedAt,
        binds: this.deps.listeners.map((l) => l.url),
        desired: this.#desired,
        ready: this.#readyCount(),
        reloading: this.#reloading,
        generation: this.#generation,
        stats: this.stats,
        workers: [...this.#workers].map((handle) => ({ handle, generation: this.#generationOf.get(handle) ?? 0 })),
      },
      now,
    );
  }

  /** One line for systemd's STATUS= (shown by systemctl status). */
  status(): string {
    return `${this.#readyCount()} workers serving ${this.deps.listeners.map((l) => l.url).join(', ')}`;
  }

  #readyCount(): number {
    let ready = 0;
    for (const w of this.#workers) if (w.state === 'ready') ready += 1;
    return ready;
  }

  /** A worker that serves slot `slot` now or will: booting or ready, and not on its way out. */
  #slotCovered(slot: number): boolean {
    for (const w of this.#workers) {
      if (w.slot !== slot || (w.state !== 'booting' && w.state !== 'ready')) continue;
      if (!this.#retiring.has(w)) return true;
    }
    return false;
  }

  // ── replacement: surge, then drain ──────────────────────────────────────────────────────

  /** Queues a planned replacement; at most --reload-batch run at once. */
  #replace(old: WorkerHandle, reason: ReplaceReason): void {
    if (old.state !== 'ready' || this.#retiring.has(old) || this.#hasSuccessor(old) || this.#state === 'stopping') return;
    this.#retiring.set(old, reason);
    this.#pump();
  }

  #hasSuccessor(old: WorkerHandle): boolean {
    for (const { old: o } of this.#successors.values()) if (o === old) return true;
    return false;
  }

  #pump(): void {
    for (const [old, reason] of this.#retiring) {
      if (this.#successors.size >= this.#config.reloadBatch) return;
      this.#retiring.delete(old);
      if (old.state === 'ready') this.#startSuccessor(old, reason);
    }
  }

  /** Forks the worker that will take over `old`'s slot; `old` drains once it is ready. */
  #startSuccessor(old: WorkerHandle, reason: ReplaceReason): void {
    if (this.#hasSuccessor(old) || this.#state === 'stopping' || old.slot >= this.#desired) return;
    this.#retiring.delete(old);
    const successor = this.#spawn(old.slot);
    this.#successors.set(successor, { old, reason });
  }

  // ── exits ───────────────────────────────────────────────────────────────────────────────

  #onExit(handle: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    const before = handle.state;
    const bootFailure = this.#bootFailures.get(handle);
    const killReason = this.#killReasons.get(handle);
    this.#bootFailures.delete(handle);
    this.#killReasons.delete(handle);
    this.#retiring.delete(handle);
    const reason =
      killReason !== undefined ? `${killReason} (${how})`
      : before === 'draining' ? `drained (${how})`
      : before === 'booting' ? `failed to boot (${bootFailure ?? how})`
      : `died unexpectedly (${how})`;
    handle.transition('exited', reason);
    this.#workers.delete(handle);
    const cause = this.#exitCause.get(handle) ?? (before === 'draining' || this.#state === 'stopping' ? null : 'crash');
    this.#exitCause.delete(handle);
    this.stats.exited(handle, this.#state === 'stopping' ? null : cause, reason);

    if (this.#state === 'stopping') {
      if (this.#workers.size === 0) this.#finish();
      return;
    }
    if (before === 'booting' && this.#state === 'starting') {
      // The app cannot start: stop rather than fork the same failure forever.
      this.#fatal(bootFailure ?? `app ${this.#config.app}: worker ${handle.slot} exited with ${how} while loading, before it was ready`, ExitCode.appLoad);
      return;
    }
    const succession = this.#successors.get(handle);
    if (succession !== undefined) {
      this.#successors.delete(handle);
      this.#abortReplacements(succession.reason, reason);
    }
    if (handle.slot < this.#desired && !this.#slotCovered(handle.slot)) {
      const planned = before === 'draining' && killReason === undefined;
      this.#respawn(handle.slot, planned ? 0 : this.#backoff.next(handle.uptime()));
    }
    this.#pump();
    this.#reportReloadDone();
  }

  /** A new worker failed to boot: the workers it was to replace keep serving. */
  #abortReplacements(reason: ReplaceReason, why: string): void {
    let kept = 0;
    for (const [old, r] of this.#retiring) {
      if (r !== reason) continue;
      this.#retiring.delete(old);
      kept += 1;
    }
    this.#log.error(
      { event: 'replace-failed', reason, why },
      `a new worker failed to boot (${why}): ${reason} stopped, the current workers keep serving${kept > 0 ? ` (${kept} not replaced)` : ''}`,
    );
    if (reason === 'reload' && this.#reloading) {
      this.#reloading = false;
      void this.deps.notifier?.ready(this.status());
    }
  }

  #respawn(slot: number, delay: number): void {
    if (this.#pendingSpawns.has(slot)) return;
    if (delay === 0) {
      this.#spawn(slot);
      return;
    }
    this.#log.warn({ event: 'backoff', worker: slot, delayMs: delay }, `worker ${slot} is crash-looping: next start in ${delay} ms`);
    this.#pendingSpawns.set(
      slot,
      setTimeout(() => {
        this.#pendingSpawns.delete(slot);
        if (this.#state !== 'stopping' && slot < this.#desired && !this.#slotCovered(slot)) this.#spawn(slot);
      }, delay),
    );
  }

  // ── health ──────────────────────────────────────────────────────────────────────────────

  #healthLimits(): ConstructorParameters<typeof HealthMonitor>[0] {
    return {
      timeoutMs: this.#config.timeout * 1000,
      maxMemoryBytes: this.#config.maxMemory * 1048576,
      heartbeatMs: this.#settings.heartbeatMs,
    };
  }

  #checkHealth(): void {
    for (const worker of this.#workers) if (worker.state === 'ready') this.#backoff.survived(worker.startedAt);
    for (const { worker, detail } of this.#health.hung(this.#workers)) {
      this.#log.error({ event: 'worker-hung', worker: worker.slot, pid: worker.pid }, `worker ${worker.slot} (pid ${worker.pid}) hung: ${detail}; killing it`);
      this.#killReasons.set(worker, `killed: hung, ${detail}`);
      this.#exitCause.set(worker, 'timeout');
      worker.kill();
    }
  }

  // ── reload and scale ────────────────────────────────────────────────────────────────────

  #reloading = false;

  /** SIGHUP: read the config again, then replace every worker, surge first, batch by batch. */
  /** Resolves once the reload started (null) or with why it could not. */
  async reload(): Promise<string | null> {
    if (this.#state === 'stopping') return 'the master is stopping';
    let next: Config;
    try {
      next = await this.deps.reloadConfig();
    } catch (err) {
      this.#log.error({ event: 'reload-failed', reason: (err as Error).message }, `reload aborted, the current workers keep serving: ${(err as Error).message}`);
      return `reload aborted, the current workers keep serving: ${(err as Error).message}`;
    }
    const ignored = RESTART_ONLY.filter((key) => JSON.stringify(next[key]) !== JSON.stringify(this.#config[key]));
    if (ignored.length > 0) {
      this.#log.warn({ event: 'reload-ignored', options: ignored }, `reload: ${ignored.join(', ')} changed; that needs a restart (or hot upgrade), ignored until then`);
    }
    const kept = Object.fromEntries(RESTART_ONLY.map((key) => [key, this.#config[key]]));
    this.#config = Object.freeze({ ...next, ...kept }) as Config;
    this.#settings = this.deps.settingsFor(this.#config);
    this.#health.limits = this.#healthLimits();
    this.#log.level = this.#config.logLevel;
    this.#generation += 1;
    this.#reloading = true;
    void this.deps.notifier?.reloading();
    this.#log.info({ event: 'reload', workers: this.#config.workers, app: this.#config.app }, `reloading: replacing every worker, ${this.#config.reloadBatch} at a time`);
    this.scale(this.#config.workers);
    for (const w of this.#workers) if (w.state === 'ready' && w.slot < this.#desired) this.#replace(w, 'reload');
    this.#reportReloadDone();
    return null;
  }

  #reportReloadDone(): void {
    if (!this.#reloading) return;
    for (const w of this.#workers) {
      if (w.state !== 'booting' && w.state !== 'ready') continue;
      if ((this.#generationOf.get(w) ?? 0) < this.#generation || w.state === 'booting') return;
    }
    this.#reloading = false;
    this.#log.info({ event: 'reload-done', workers: this.#readyCount() }, `reload done: ${this.#readyCount()} workers serving`);
    void this.deps.notifier?.ready(this.status());
  }

  /** TTIN/TTOU and reloads: grow by forking new slots, shrink by draining the highest slots. */
  scale(target: number): void {
    if (this.#state === 'stopping') return;
    const desired = Math.max(1, Math.min(1024, target));
    if (desired === this.#desired && target === this.#desired) return;
    const from = this.#desired;
    this.#desired = desired;
    if (desired !== from) this.#log.info({ event: 'scale', from, to: desired }, `scaling from ${from} to ${desired} workers`);
    for (let slot = 0; slot < desired; slot += 1) if (!this.#slotCovered(slot) && !this.#pendingSpawns.has(slot)) this.#spawn(slot);
    for (const w of this.#workers) {
      if (w.slot < desired) continue;
      if (w.state === 'ready') this.#exitCause.set(w, 'scale');
      w.drain('scaled down');
    }
    for (const [slot, timer] of this.#pendingSpawns) {
      if (slot < desired) continue;
      clearTimeout(timer);
      this.#pendingSpawns.delete(slot);
    }
  }

  // ── logs ────────────────────────────────────────────────────────────────────────────────

  /**
   * SIGUSR1 (logrotate renamed the file): reopen ours by name, then have every worker do the
   * same: each process owns its own descriptor.
   */
  reopenLogs(): void {
    const file = logFileOf(this.#log);
    if (file === null) {
      this.#log.info({ event: 'reopen-logs' }, 'SIGUSR1: nothing to reopen (logging to stdout)');
      return;
    }
    try {
      reopenLogFile(this.#log);
      this.#log.info({ event: 'reopen-logs', file }, `reopened log file ${file}`);
    } catch (err) {
      this.#log.error({ event: 'reopen-failed', file, reason: (err as Error).message }, (err as Error).message);
    }
    // Even when ours failed: a worker's may not (and each says so in the log either way).
    for (const w of this.#workers) w.send({ type: 'reopen-logs' });
  }

  // ── hot upgrade ─────────────────────────────────────────────────────────────────────────

  /** SIGUSR2: only a running master starts a new one (the upgrader refuses the other cases itself). */
  #upgrade(): void {
    if (this.#state !== 'running') {
      const why = this.#state === 'starting' ? 'this master is still starting (its workers are not all serving yet)' : 'this master is stopping';
      this.#log.warn({ event: 'upgrade-refused', reason: why }, `SIGUSR2 refused: ${why}`);
      return;
    }
    this.deps.upgrade?.start();
  }

  /** A hot upgrade's new master serves: our workers drain at once (no --shutdown-delay: the new ones accept already), then we leave. */
  handOver(newPid: number): void {
    this.stop('graceful', `hot upgrade: master ${newPid} took over`, { handover: true });
  }

  // ── stopping ────────────────────────────────────────────────────────────────────────────

  #fatal(message: string, code: ExitCodeValue): void {
    this.#log.fatal({ event: 'fatal', reason: message }, message);
    process.stderr.write(`prefork: ${message}\n`);
    this.#exitCode = code;
    this.stop(this.deps.fatalStop ?? 'immediate', 'fatal error', { shutdownDelay: false });
  }

  /**
   * graceful: after --shutdown-delay (workers keep accepting meanwhile, so load balancers and
   * Kubernetes endpoints can stop sending first), every worker drains (up to --graceful-timeout,
   * then it is killed). immediate: every worker is killed now. A graceful stop asked for twice,
   * even during the delay, becomes immediate. `handover`: a hot upgrade's new master serves, so
   * no --shutdown-delay, no STOPPING=1 (the notifier is muted) and the upgrade is not aborted.
   */
  stop(mode: 'graceful' | 'immediate', why: string, opts: { handover?: boolean; shutdownDelay?: boolean } = {}): void {
    const handover = opts.handover ?? false;
    const shutdownDelay = opts.shutdownDelay ?? !handover;
    if (this.#state === 'stopping' && mode === 'graceful') mode = 'immediate';
    this.#state = 'stopping';
    if (!handover) this.deps.upgrade?.abort(why);
    for (const timer of this.#pendingSpawns.values()) clearTimeout(timer);
    this.#pendingSpawns.clear();
    this.#retiring.clear();
    if (this.#healthTimer !== null) clearInterval(this.#healthTimer);
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#delayTimer = null;
    const delay = mode === 'graceful' && shutdownDelay ? this.#config.shutdownDelay : 0;
    this.#log.info(
      { event: 'stopping', mode, reason: why, workers: this.#workers.size, delay },
      `stopping (${mode}): ${why}${delay > 0 ? `; serving ${delay} s more (--shutdown-delay) before draining` : ''}`,
    );
    void this.deps.notifier?.stopping();
    if (mode === 'immediate') {
      if (!handover) this.#stopListening();
      for (const w of this.#workers) w.kill();
    } else if (delay > 0) {
      this.#delayTimer = setTimeout(() => {
        this.#delayTimer = null;
        this.#log.info({ event: 'shutdown-delay-over', workers: this.#workers.size }, `--shutdown-delay ${delay} s over: draining`);
        this.#drainAll(!handover);
      }, delay * 1000);
    } else {
      this.#drainAll(!handover);
    }
    if (this.#workers.size === 0) this.#finish();
  }

  /** `stopListening`: false for a hand-over, whose sockets the new master serves. */
  #drainAll(stopListening: boolean): void {
    if (stopListening) this.#stopListening();
    for (const w of this.#workers) w.drain('master stopping');
    // The backstop: each worker ends its own drain at --graceful-timeout (closing what is still
    // open, then exiting); the second more lets it do so rather than be killed mid-way.
    this.#stopTimer ??= setTimeout(() => {
      this.#log.warn({ event: 'graceful-timeout', workers: this.#workers.size }, 'graceful timeout: killing the workers still busy');
      for (const w of this.#workers) w.kill();
    }, timerMs(this.#config.gracefulTimeout, 1000));
  }

  #stopListening(): void {
    if (!this.#listening) return;
    this.#listening = false;
    this.deps.stopListening?.();
  }

  #finish(): void {
    if (this.#stopTimer !== null) clearTimeout(this.#stopTimer);
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#removeSignalHandlers();
    this.#resolveStopped(this.#exitCode);
  }
}
