import { Balancer } from './balance.js';
import { reloadedConfig } from './config.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { HealthMonitor } from './health.js';
import type { RawHandle } from './internals.js';
import type { Listener } from './listeners.js';
import { type Logger, logFileOf, reopenLogFile } from './log.js';
import type { WorkerMessage, WorkerSettings } from './messages.js';
import type { Config } from './options.js';
import { PoolTotals } from './pool-totals.js';
import { WorkerPool } from './pool.js';
import { type PoolStatus, poolStatus } from './status-snapshot.js';
import { installSignalHandlers } from './signals.js';
import { timerMs } from './timers.js';
import type { SystemdNotifier } from './systemd.js';
import type { ReplaceReason, Spawn, Transition, WorkerHandle } from './worker-handle.js';

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
  /**
   * A stop's drain begins (not a hot upgrade's hand-over): close the master's copies of the
   * listeners, so that with the workers' closed too new connections are refused at once.
   */
  stopListening?: () => void;
}

export const HEALTH_CHECK_MS = 250;
/** After a shed order, two checks pass before the next: the shed and the reconnects take milliseconds under load. */
const BALANCE_QUIET_MS = 2 * HEALTH_CHECK_MS;

/**
 * The master loop: reacts to signals, worker messages and exits; the pool (pool.ts) keeps every
 * slot served, planned replacements surge first (replacement.ts). It never touches a client
 * connection and never binds.
 */
export class Master {
  readonly #pool: WorkerPool;
  readonly #health: HealthMonitor;
  readonly #balancer: Balancer;
  readonly stats = new PoolTotals();
  readonly startedAt = Date.now();
  #config: Config;
  #settings: WorkerSettings;
  #reloading = false;
  /** Reloads asked for so far: only the newest one applies its config (overlapping ones coalesce). */
  #reloadAsks = 0;
  /** The newest reload's outcome, which the reloads it superseded answer with. */
  #lastReload: Promise<string | null> = Promise.resolve(null);
  #state: MasterState = 'starting';
  #exitCode: ExitCodeValue = ExitCode.ok;
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
    this.#health = new HealthMonitor(this.#healthLimits());
    this.#balancer = new Balancer(BALANCE_QUIET_MS);
    this.#pool = new WorkerPool({
      spawn: deps.spawn,
      log: deps.log,
      config: () => this.#config,
      onMessage: (w, m) => this.#onMessage(w, m),
      onTransition: (t) => this.#onTransition(t),
      onExit: (w, code, signal) => this.#onExit(w, code, signal),
      afterPass: () => this.#reportReloadDone(),
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
    for (let slot = 0; slot < this.#pool.desired; slot += 1) this.#pool.spawn(slot);
    this.#healthTimer = setInterval(() => {
      this.#checkHealth();
      this.#balance();
      this.#pool.maintain();
    }, HEALTH_CHECK_MS);
    // Last: a signal that arrived during start-up is replayed here and may stop us at once.
    this.#removeSignalHandlers = (this.deps.installSignals ?? installSignalHandlers)({
      stop: () => this.stop('graceful', 'signal'),
      stopNow: () => this.stop('immediate', 'SIGQUIT'),
      reload: () => void this.reload(),
      scaleUp: () => this.scale(this.#pool.desired + 1),
      scaleDown: () => this.scale(this.#pool.desired - 1),
      reopenLogs: () => this.reopenLogs(),
      upgrade: () => this.#upgrade(),
    });
    return stopped;
  }

  // ── workers ─────────────────────────────────────────────────────────────────────────────

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
          this.#pool.replacements.queue(handle, 'max-memory');
        }
        break;
      }
      case 'recycle-soon':
        // The limit is the worker's to enforce; we only make sure its successor is on the way.
        if (handle.state === 'ready') this.#pool.replacements.start(handle, message.reason);
        break;
      case 'draining':
        // Already draining means we asked first (its successor is ready): nothing to add.
        if (handle.state !== 'ready') break;
        handle.transition('draining', message.reason);
        handle.exitCause = 'max_requests';
        this.#pool.replacements.start(handle, message.reason);
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
    const pool = [...this.#pool].flatMap((worker) => {
      const v = worker.state === 'ready' ? this.stats.vitals(worker) : undefined;
      return v?.canShed === true ? [{ worker, connections: v.keepAlive }] : [];
    });
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
    if (to !== 'ready') return;
    this.#health.watch(worker);
    this.#pool.replacements.promoted(worker);
    if (this.#state === 'starting' && this.#pool.readyCount() >= this.#pool.desired) {
      this.#state = 'running';
      const urls = this.deps.listeners.map((l) => l.url);
      this.#log.info({ event: 'ready', workers: this.#pool.readyCount(), addresses: urls }, `ready: ${this.#pool.readyCount()} workers serving ${urls.join(', ')}`);
      void this.deps.notifier?.ready(this.status());
      this.deps.onReady?.(urls);
    }
    this.#pool.maintain();
  }

  /** The pool as `prefork status` and the metrics show it. */
  snapshot(now = Date.now()): PoolStatus {
    return poolStatus(
      {
        config: this.#config,
        state: this.#state,
        startedAt: this.startedAt,
        binds: this.deps.listeners.map((l) => l.url),
        desired: this.#pool.desired,
        ready: this.#pool.readyCount(),
        reloading: this.#reloading,
        generation: this.#pool.generation,
        stats: this.stats,
        workers: [...this.#pool].map((handle) => ({ handle, generation: handle.generation })),
      },
      now,
    );
  }

  /** One line for systemd's STATUS= (shown by systemctl status). */
  status(): string {
    return `${this.#pool.readyCount()} workers serving ${this.deps.listeners.map((l) => l.url).join(', ')}`;
  }

  /** A method, not a field read: TypeScript would keep a narrowing of #state across calls and awaits. */
  #stopping(): boolean {
    return this.#state === 'stopping';
  }

  // ── exits ───────────────────────────────────────────────────────────────────────────────

  #onExit(handle: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const before = handle.state;
    const reason = handle.exited(code, signal);
    this.#pool.remove(handle);
    const cause = handle.exitCause ?? (before === 'draining' || this.#state === 'stopping' ? null : 'crash');
    this.stats.exited(handle, this.#state === 'stopping' ? null : cause, reason);

    if (this.#state === 'stopping') {
      if (this.#pool.size === 0) this.#finish();
      return;
    }
    if (before === 'booting' && this.#state === 'starting') {
      // The app cannot start: stop rather than fork the same failure forever.
      const how = signal !== null ? `signal ${signal}` : `code ${code}`;
      this.#fatal(handle.bootFailure ?? `app ${this.#config.app}: worker ${handle.slot} exited with ${how} while loading, before it was ready`, ExitCode.appLoad);
      return;
    }
    if (this.#pool.replacements.exited(handle, reason) === 'reload' && this.#reloading) {
      this.#pool.replaceStale = false;
      this.#reloading = false;
      void this.deps.notifier?.ready(this.status());
    }
    this.#pool.refill(handle, before === 'draining' && handle.killReason === null);
    this.#pool.maintain();
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
    this.#pool.checkUptimes();
    for (const { worker, detail } of this.#health.hung(this.#pool)) {
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
  reload(): Promise<string | null> {
    this.#lastReload = this.#reloadOnce((this.#reloadAsks += 1));
    return this.#lastReload;
  }

  async #reloadOnce(ask: number): Promise<string | null> {
    if (this.#state === 'stopping') return 'the master is stopping';
    let next: Config;
    try {
      next = await this.deps.reloadConfig();
    } catch (err) {
      this.#log.error({ event: 'reload-failed', reason: (err as Error).message }, `reload aborted, the current workers keep serving: ${(err as Error).message}`);
      return `reload aborted, the current workers keep serving: ${(err as Error).message}`;
    }
    // A newer reload was asked for while we read: it reads the newest config and does the work.
    if (ask !== this.#reloadAsks) return this.#lastReload;
    if (this.#stopping()) return 'the master is stopping';
    const { config, ignored } = reloadedConfig(this.#config, next);
    if (ignored.length > 0) {
      this.#log.warn({ event: 'reload-ignored', options: ignored }, `reload: ${ignored.join(', ')} changed; that needs a restart (or hot upgrade), ignored until then`);
    }
    this.#config = config;
    this.#settings = this.deps.settingsFor(this.#config);
    this.#health.limits = this.#healthLimits();
    this.#log.level = this.#config.logLevel;
    this.#pool.generation += 1;
    this.#pool.replaceStale = true;
    // systemd hears RELOADING=1 once, and READY=1 once when the last reload is done.
    if (!this.#reloading) void this.deps.notifier?.reloading();
    this.#reloading = true;
    this.#log.info({ event: 'reload', workers: this.#config.workers, app: this.#config.app }, `reloading: replacing every worker, ${this.#config.reloadBatch} at a time`);
    const { replacements } = this.#pool;
    for (const s of replacements.inFlight('reload')) replacements.cancel(s, 'a newer reload started');
    this.scale(this.#config.workers);
    this.#pool.maintain();
    return null;
  }

  #reportReloadDone(): void {
    if (!this.#reloading || this.#pool.replacements.busy) return;
    for (const w of this.#pool) {
      if (w.state === 'booting' || (w.state === 'ready' && w.generation < this.#pool.generation)) return;
    }
    this.#reloading = false;
    this.#log.info({ event: 'reload-done', workers: this.#pool.readyCount() }, `reload done: ${this.#pool.readyCount()} workers serving`);
    void this.deps.notifier?.ready(this.status());
  }

  /** TTIN/TTOU and reloads: grow by forking new slots, shrink by draining the highest slots. */
  scale(target: number): void {
    if (this.#state === 'stopping') return;
    const desired = Math.max(1, Math.min(1024, target));
    if (desired === this.#pool.desired) return;
    const from = this.#pool.desired;
    this.#pool.desired = desired;
    this.#log.info({ event: 'scale', from, to: desired }, `scaling from ${from} to ${desired} workers`);
    this.#pool.maintain();
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
    for (const w of this.#pool) w.send({ type: 'reopen-logs' });
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
    this.#pool.stop();
    if (this.#healthTimer !== null) clearInterval(this.#healthTimer);
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#delayTimer = null;
    const delay = mode === 'graceful' && shutdownDelay ? this.#config.shutdownDelay : 0;
    this.#log.info(
      { event: 'stopping', mode, reason: why, workers: this.#pool.size, delay },
      `stopping (${mode}): ${why}${delay > 0 ? `; serving ${delay} s more (--shutdown-delay) before draining` : ''}`,
    );
    void this.deps.notifier?.stopping();
    if (mode === 'immediate') {
      if (!handover) this.#stopListening();
      for (const w of this.#pool) w.kill();
    } else if (delay > 0) {
      this.#delayTimer = setTimeout(() => {
        this.#delayTimer = null;
        this.#log.info({ event: 'shutdown-delay-over', workers: this.#pool.size }, `--shutdown-delay ${delay} s over: draining`);
        this.#drainAll(!handover);
      }, delay * 1000);
    } else {
      this.#drainAll(!handover);
    }
    if (this.#pool.size === 0) this.#finish();
  }

  /** `stopListening`: false for a hand-over, whose sockets the new master serves. */
  #drainAll(stopListening: boolean): void {
    if (stopListening) this.#stopListening();
    for (const w of this.#pool) w.drain('master stopping');
    // The backstop: each worker ends its own drain at --graceful-timeout (closing what is still
    // open, then exiting); the second more lets it do so rather than be killed mid-way.
    this.#stopTimer ??= setTimeout(() => {
      this.#log.warn({ event: 'graceful-timeout', workers: this.#pool.size }, 'graceful timeout: killing the workers still busy');
      for (const w of this.#pool) w.kill();
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
