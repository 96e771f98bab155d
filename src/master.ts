import { Balancer } from './balance.js';
import { CrashBackoff } from './backoff.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { HealthMonitor } from './health.js';
import type { RawHandle } from './internals.js';
import type { Listener } from './listeners.js';
import { type Logger, logFileOf, reopenLogFile } from './log.js';
import type { WorkerMessage, WorkerSettings } from './messages.js';
import type { Config } from './options.js';
import { PoolStats } from './pool-stats.js';
import { Replacements } from './replacement.js';
import { type PoolStatus, poolStatus } from './status.js';
import { installSignalHandlers } from './signals.js';
import type { SystemdNotifier } from './systemd.js';
import { type ReplaceReason, type Spawn, type Transition, WorkerHandle } from './worker-handle.js';

export type { ReplaceReason };

type MasterState = 'starting' | 'running' | 'stopping';

export interface MasterDeps {
  config: Config;
  listeners: readonly Listener[];
  log: Logger;
  /** Settings for new workers, derived from a config (called again after a reload). */
  settingsFor: (config: Config) => WorkerSettings;
  /** Reads the configuration afresh (config file, env, argv) for SIGHUP. */
  reloadConfig: () => Promise<Config>;
  /** Starts a worker process for a slot: fork.ts (cluster.fork), or fakes in unit tests. */
  spawn: Spawn;
  /** Installs the signal table (signals.ts); unit tests call the actions themselves. */
  installSignals?: typeof installSignalHandlers;
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
}

export const HEALTH_CHECK_MS = 250;
/** After a shed order, two checks pass before the next: the shed and the reconnects take milliseconds under load. */
const BALANCE_QUIET_MS = 2 * HEALTH_CHECK_MS;
/** Options a reload cannot apply (new sockets, privileges, the one log file every process shares): logged as ignored. */
const RESTART_ONLY: ReadonlyArray<keyof Config> = ['bind', 'socketMode', 'backlog', 'name', 'config', 'certfile', 'keyfile', 'logFile', 'pidfile', 'user', 'group', 'socketOwner', 'control', 'metricsBind', 'reload'];

const live = (w: WorkerHandle): boolean => w.state === 'booting' || w.state === 'ready';

/**
 * The master loop: owns the worker table, reacts to signals and worker messages, keeps every
 * slot served (one pass, #maintain). Planned replacements surge first (replacement.ts). It never
 * touches a client connection and never binds.
 */
export class Master {
  readonly #workers = new Set<WorkerHandle>();
  /** Slots waiting out a crash back-off. */
  readonly #pendingSpawns = new Map<number, NodeJS.Timeout>();
  readonly #health: HealthMonitor;
  readonly #balancer: Balancer;
  readonly #replacements: Replacements;
  readonly stats = new PoolStats();
  readonly startedAt = Date.now();
  #config: Config;
  #settings: WorkerSettings;
  #desired: number;
  #generation = 0;
  #reloading = false;
  /** Reloads asked for so far: only the newest one applies its config (overlapping ones coalesce). */
  #reloadAsks = 0;
  /** The generation whose reload failed: its stale workers keep serving, not replaced again. */
  #reloadFailed = -1;
  #state: MasterState = 'starting';
  #exitCode: ExitCodeValue = ExitCode.ok;
  readonly #backoff = new CrashBackoff(() => this.#config.minUptime * 1000);
  #maintaining = false;
  #maintainAgain = false;
  #stopTimer: NodeJS.Timeout | null = null;
  /** Pending start of the drain while --shutdown-delay runs. */
  #delayTimer: NodeJS.Timeout | null = null;
  #healthTimer: NodeJS.Timeout | null = null;
  #removeSignalHandlers: () => void = () => {};
  #resolveStopped: (code: ExitCodeValue) => void = () => {};

  constructor(private readonly deps: MasterDeps) {
    this.#config = deps.config;
    this.#settings = deps.settingsFor(deps.config);
    this.#desired = deps.config.workers;
    this.#health = new HealthMonitor(this.#healthLimits());
    this.#balancer = new Balancer(BALANCE_QUIET_MS);
    this.#replacements = new Replacements({
      batch: () => this.#config.reloadBatch,
      allowed: (old) => this.#state !== 'stopping' && old.slot < this.#desired,
      spawn: (slot) => this.#spawn(slot),
      log: deps.log,
    });
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
    for (let slot = 0; slot < this.#desired; slot += 1) this.#spawn(slot);
    this.#healthTimer = setInterval(() => {
      this.#checkHealth();
      this.#balance();
      this.#maintain();
    }, HEALTH_CHECK_MS);
    // Last: a signal that arrived during start-up is replayed here and may stop us at once.
    this.#removeSignalHandlers = (this.deps.installSignals ?? installSignalHandlers)({
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
    let bootTimer: NodeJS.Timeout | undefined;
    const handle: WorkerHandle = new WorkerHandle(
      slot,
      this.deps.spawn(slot, { message: (m) => this.#onMessage(handle, m), exit: (code, signal) => this.#onExit(handle, code, signal) }),
      (t) => {
        if (t.from === 'booting') clearTimeout(bootTimer);
        this.#onTransition(t);
      },
    );
    handle.generation = this.#generation;
    this.#workers.add(handle);
    this.#log.info({ event: 'worker', worker: slot, pid: handle.pid, state: 'booting' }, `worker ${slot} (pid ${handle.pid}) booting`);
    bootTimer = setTimeout(() => {
      if (handle.state !== 'booting') return;
      // The worker's own reason, when it sent one, says more.
      handle.bootFailure ??= `not ready within --boot-timeout ${this.#config.bootTimeout} s`;
      handle.kill();
    }, this.#config.bootTimeout * 1000);
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
        handle.bootFailure = message.reason;
        break;
      case 'heartbeat': {
        this.stats.beat(handle, { requests: message.requests, inflight: message.inflight, keepAlive: message.keepAlive, canShed: message.canShed, rss: message.rss, lagMs: message.lagMs, stats: message.stats });
        const verdict = this.#health.beat(handle, message.rss);
        if (verdict !== null) {
          this.#log.warn({ event: 'worker-bloated', worker: handle.slot, pid: handle.pid, rss: message.rss }, `worker ${handle.slot} (pid ${handle.pid}): ${verdict.detail}`);
          this.#replacements.queue(handle, 'max-memory');
        }
        break;
      }
      case 'recycle-soon':
        // The limit is the worker's to enforce; we only make sure its successor is on the way.
        if (handle.state === 'ready') this.#replacements.start(handle, message.reason);
        break;
      case 'draining':
        // Already draining means we asked first (its successor is ready): nothing to add.
        if (handle.state !== 'ready') break;
        handle.transition('draining', message.reason);
        handle.exitCause = 'max_requests';
        this.#replacements.start(handle, message.reason);
        break;
    }
  }

  #sendHandles(handle: WorkerHandle): void {
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
    this.#replacements.promoted(worker);
    if (this.#state === 'starting' && this.#readyCount() >= this.#desired) {
      this.#state = 'running';
      const urls = this.deps.listeners.map((l) => l.url);
      this.#log.info({ event: 'ready', workers: this.#readyCount(), addresses: urls }, `ready: ${this.#readyCount()} workers serving ${urls.join(', ')}`);
      void this.deps.notifier?.ready(this.status());
      this.deps.onReady?.(urls);
    }
    this.#maintain();
  }

  /** A worker drains for at most --graceful-timeout (it enforces that itself; this is the backstop). */
  #limitDrain(worker: WorkerHandle): void {
    const grace = this.#config.gracefulTimeout * 1000 + 1000;
    setTimeout(() => {
      if (worker.state !== 'draining') return;
      worker.killReason = `killed: still draining after --graceful-timeout ${this.#config.gracefulTimeout} s`;
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
        workers: [...this.#workers].map((handle) => ({ handle, generation: handle.generation })),
      },
      now,
    );
  }

  /** One line for systemd's STATUS= (shown by systemctl status). */
  status(): string {
    return `${this.#readyCount()} workers serving ${this.deps.listeners.map((l) => l.url).join(', ')}`;
  }

  /** A method, not a field read: TypeScript would keep a narrowing of #state across calls and awaits. */
  #stopping(): boolean {
    return this.#state === 'stopping';
  }

  #readyCount(): number {
    let ready = 0;
    for (const w of this.#workers) if (w.state === 'ready') ready += 1;
    return ready;
  }

  // ── keeping the pool whole ──────────────────────────────────────────────────────────────

  /**
   * The one place that checks the pool against what is wanted, after every change and on every
   * health check: workers above the desired count drain, a slot holds one worker (plus a
   * successor booting to replace it), an empty slot is forked unless it waits out a crash
   * back-off, workers older than the last reload are queued for replacement.
   */
  #maintain(): void {
    if (this.#state === 'stopping') return;
    // Draining or forking a worker changes the pool again (and calls back here): one pass at a time.
    if (this.#maintaining) {
      this.#maintainAgain = true;
      return;
    }
    this.#maintaining = true;
    try {
      do {
        this.#maintainAgain = false;
        this.#maintainOnce();
      } while (this.#maintainAgain && !this.#stopping());
    } finally {
      this.#maintaining = false;
    }
  }

  #maintainOnce(): void {
    const bySlot = new Map<number, WorkerHandle[]>();
    for (const w of this.#workers) {
      if (!live(w)) continue;
      if (w.slot >= this.#desired) {
        this.#retire(w, 'scaled down', 'scale');
        continue;
      }
      // A successor booting beside the worker it replaces is the one extra a slot may hold.
      if (w.replaces !== null && live(w.replaces.old)) continue;
      bySlot.set(w.slot, [...(bySlot.get(w.slot) ?? []), w]);
    }
    for (const [slot, timer] of this.#pendingSpawns) {
      if (slot < this.#desired) continue;
      clearTimeout(timer);
      this.#pendingSpawns.delete(slot);
    }
    for (const extras of bySlot.values()) {
      // Never expected: the safety net that keeps one worker per slot whatever raced. The newest ready one stays.
      extras.sort((a, b) => Number(b.state === 'ready') - Number(a.state === 'ready') || b.generation - a.generation || b.startedAt - a.startedAt);
      for (const extra of extras.slice(1)) this.#retire(extra, `another worker serves slot ${extra.slot}`, 'scale');
    }
    for (let slot = 0; slot < this.#desired; slot += 1) if (!bySlot.has(slot) && !this.#pendingSpawns.has(slot)) this.#spawn(slot);
    if (this.#reloadFailed !== this.#generation) {
      for (const w of this.#workers) if (w.state === 'ready' && w.generation < this.#generation) this.#replacements.queue(w, 'reload');
    }
    this.#replacements.pump();
    this.#reportReloadDone();
  }

  /** A worker no longer wanted drains (a successor still booting just stops; its old worker stays). */
  #retire(w: WorkerHandle, why: string, cause: 'scale'): void {
    if (w.replaces !== null) return this.#replacements.cancel(w, why);
    if (w.state === 'ready') w.exitCause = cause;
    w.drain(why);
  }

  // ── exits ───────────────────────────────────────────────────────────────────────────────

  #onExit(handle: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    const before = handle.state;
    const { bootFailure, killReason } = handle;
    const reason =
      killReason !== null ? `${killReason} (${how})`
      : before === 'draining' ? `drained (${how})`
      : before === 'booting' ? `failed to boot (${bootFailure ?? how})`
      : `died unexpectedly (${how})`;
    handle.transition('exited', reason);
    this.#workers.delete(handle);
    const cause = handle.exitCause ?? (before === 'draining' || this.#state === 'stopping' ? null : 'crash');
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
    if (this.#replacements.exited(handle, reason) === 'reload' && this.#reloading) {
      this.#reloadFailed = this.#generation;
      this.#reloading = false;
      void this.deps.notifier?.ready(this.status());
    }
    const covered = [...this.#workers].some((w) => w.slot === handle.slot && live(w));
    if (handle.slot < this.#desired && !covered) {
      const planned = before === 'draining' && killReason === null;
      const delay = planned ? 0 : this.#backoff.next(handle.uptime(), Date.now(), handle.readyAt !== null);
      if (delay > 0) this.#backOff(handle.slot, delay);
    }
    this.#maintain();
  }

  /** The slot stays empty for `delay` ms: its workers die before they ever serve. */
  #backOff(slot: number, delay: number): void {
    if (this.#pendingSpawns.has(slot)) return;
    this.#log.warn({ event: 'backoff', worker: slot, delayMs: delay }, `worker ${slot} is crash-looping: next start in ${delay} ms`);
    this.#pendingSpawns.set(
      slot,
      setTimeout(() => {
        this.#pendingSpawns.delete(slot);
        this.#maintain();
      }, delay),
    );
  }

  // ── health ──────────────────────────────────────────────────────────────────────────────

  #healthLimits(): ConstructorParameters<typeof HealthMonitor>[0] {
    return {
      timeoutMs: this.#config.timeout * 1000,
      maxMemoryBytes: this.#config.maxMemory * 1048576,
      heartbeatMs: this.#settings.heartbeatMs,
      checkMs: HEALTH_CHECK_MS,
    };
  }

  #checkHealth(): void {
    for (const worker of this.#workers) if (worker.state === 'ready') this.#backoff.survived(worker.startedAt);
    for (const { worker, detail } of this.#health.hung(this.#workers)) {
      this.#log.error({ event: 'worker-hung', worker: worker.slot, pid: worker.pid }, `worker ${worker.slot} (pid ${worker.pid}) hung: ${detail}; killing it`);
      worker.killReason = `killed: hung, ${detail}`;
      worker.exitCause = 'timeout';
      worker.kill();
    }
  }

  // ── reload and scale ────────────────────────────────────────────────────────────────────

  /**
   * SIGHUP: read the config again, then replace every worker, surge first, batch by batch.
   * A reload asked for during another coalesces: the newest config wins, successors booting
   * with an older one stop, and the pool ends with one new worker per slot and one READY=1.
   * Resolves once the reload started (null) or with why it could not.
   */
  async reload(): Promise<string | null> {
    if (this.#state === 'stopping') return 'the master is stopping';
    const ask = (this.#reloadAsks += 1);
    let next: Config;
    try {
      next = await this.deps.reloadConfig();
    } catch (err) {
      this.#log.error({ event: 'reload-failed', reason: (err as Error).message }, `reload aborted, the current workers keep serving: ${(err as Error).message}`);
      return `reload aborted, the current workers keep serving: ${(err as Error).message}`;
    }
    // A newer reload was asked for while we read: it reads the newest config and does the work.
    if (ask !== this.#reloadAsks) return null;
    if (this.#stopping()) return 'the master is stopping';
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
    // systemd hears RELOADING=1 once, and READY=1 once when the last reload is done.
    if (!this.#reloading) void this.deps.notifier?.reloading();
    this.#reloading = true;
    this.#log.info({ event: 'reload', workers: this.#config.workers, app: this.#config.app }, `reloading: replacing every worker, ${this.#config.reloadBatch} at a time`);
    for (const s of this.#replacements.inFlight('reload')) this.#replacements.cancel(s, 'a newer reload started');
    this.scale(this.#config.workers);
    this.#maintain();
    return null;
  }

  #reportReloadDone(): void {
    if (!this.#reloading || this.#replacements.busy) return;
    for (const w of this.#workers) {
      if (w.state === 'booting' || (w.state === 'ready' && w.generation < this.#generation)) return;
    }
    this.#reloading = false;
    this.#log.info({ event: 'reload-done', workers: this.#readyCount() }, `reload done: ${this.#readyCount()} workers serving`);
    void this.deps.notifier?.ready(this.status());
  }

  /** TTIN/TTOU and reloads: grow by forking new slots, shrink by draining the highest slots. */
  scale(target: number): void {
    if (this.#state === 'stopping') return;
    const desired = Math.max(1, Math.min(1024, target));
    if (desired === this.#desired) return;
    const from = this.#desired;
    this.#desired = desired;
    this.#log.info({ event: 'scale', from, to: desired }, `scaling from ${from} to ${desired} workers`);
    this.#maintain();
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
    this.#replacements.clear();
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
      for (const w of this.#workers) w.kill();
    } else if (delay > 0) {
      this.#delayTimer = setTimeout(() => {
        this.#delayTimer = null;
        this.#log.info({ event: 'shutdown-delay-over', workers: this.#workers.size }, `--shutdown-delay ${delay} s over: draining`);
        this.#drainAll();
      }, delay * 1000);
    } else {
      this.#drainAll();
    }
    if (this.#workers.size === 0) this.#finish();
  }

  #drainAll(): void {
    for (const w of this.#workers) w.drain('master stopping');
    // The backstop: each worker ends its own drain at --graceful-timeout (closing what is still
    // open, then exiting); the second more lets it do so rather than be killed mid-way.
    this.#stopTimer ??= setTimeout(() => {
      this.#log.warn({ event: 'graceful-timeout', workers: this.#workers.size }, 'graceful timeout: killing the workers still busy');
      for (const w of this.#workers) w.kill();
    }, this.#config.gracefulTimeout * 1000 + 1000);
  }

  #finish(): void {
    if (this.#stopTimer !== null) clearTimeout(this.#stopTimer);
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#removeSignalHandlers();
    this.#resolveStopped(this.#exitCode);
  }
}
