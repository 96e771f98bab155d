import { Balancer } from '../shared/balance.js';
import { ExitCode, type ExitCodeValue } from '../shared/exit-codes.js';
import { HealthMonitor } from './health.js';
import { type Logger, logFileOf, reopenLogFile } from '../shared/log.js';
import type { WorkerSettings } from '../shared/messages.js';
import type { Config } from '../config/options.js';
import { PoolTotals } from './pool-totals.js';
import { WorkerPool } from './pool.js';
import { Reloads } from './reload.js';
import { type PoolStatus, poolStatus } from './status-snapshot.js';
import type { ProbeState } from './probes.js';
import { installSignalHandlers } from './signals.js';
import { type StopMode, type StopOptions, Stopping } from './stopping.js';
import type { SystemdNotifier } from './systemd.js';
import { Scaling } from './scaling.js';
import type { SlotSockets } from './slot-sockets.js';
import { WorkerMessages } from './worker-messages.js';
import type { ReplaceReason, Spawn, Transition, WorkerHandle } from './worker-handle.js';

export type { ReplaceReason };

type MasterState = 'starting' | 'running' | 'stopping';

export interface MasterDeps {
  config: Config;
  /** The workers' sockets: the shared ones, and each slot's own (`{worker}` binds) once bound. */
  slots: SlotSockets;
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
  readonly #reloads: Reloads;
  readonly #stopping: Stopping;
  readonly #messages: WorkerMessages;
  readonly #scaling: Scaling;
  readonly stats = new PoolTotals();
  readonly startedAt = Date.now();
  #config: Config;
  #settings: WorkerSettings;
  #state: MasterState = 'starting';
  #handedOver = false;
  #exitCode: ExitCodeValue = ExitCode.ok;
  #healthTimer: NodeJS.Timeout | null = null;
  #removeSignalHandlers: () => void = () => {};
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
      onMessage: (w, m) => this.#messages.receive(w, m),
      onTransition: (t) => this.#onTransition(t),
      onExit: (w, code, signal) => this.#onExit(w, code, signal),
      afterPass: () => this.#reloads.check(),
    });
    const { log, notifier } = deps;
    const stopping = (): boolean => this.#state === 'stopping';
    this.#scaling = new Scaling({ pool: this.#pool, log, slots: deps.slots, stopping });
    this.#reloads = new Reloads({
      log,
      pool: this.#pool,
      notifier,
      readConfig: deps.reloadConfig,
      config: () => this.#config,
      apply: (config) => this.#apply(config),
      stopping,
      scale: (target) => this.scale(target),
      status: () => this.status(),
    });
    this.#messages = new WorkerMessages({
      log,
      pool: this.#pool,
      stats: this.stats,
      health: this.#health,
      handles: (slot) => deps.slots.handles(slot),
      config: () => this.#config,
      settings: () => this.#settings,
      listening: () => this.#stopping.listening,
    });
    this.#stopping = new Stopping({
      log,
      pool: this.#pool,
      notifier,
      config: () => this.#config,
      abortUpgrade: (why) => deps.upgrade?.abort(why),
      closeListeners: () => deps.stopListening?.(),
      finished: () => {
        this.#removeSignalHandlers();
        this.#resolveStopped(this.#exitCode);
      },
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
    this.#pool.maintain(); // forks the workers, MAX_BOOTING at a time (pool.ts)
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
      scaleUp: () => this.scale(this.#scaling.target + 1),
      scaleDown: () => this.scale(this.#scaling.target - 1),
      reopenLogs: () => this.reopenLogs(),
      upgrade: () => this.#upgrade(),
    });
    return stopped;
  }

  // ── workers ─────────────────────────────────────────────────────────────────────────────

  /** The worker farthest over its share of the pool's connections sheds the excess (balance.ts). */
  #balance(): void {
    if (this.#state !== 'running' || !this.#config.balance) return;
    const pool = [...this.#pool].flatMap((worker) => {
      const v = worker.state === 'ready' ? this.stats.vitals(worker) : undefined;
      return v?.canShed === true ? [{ worker, connections: v.keepAlive }] : [];
    });
    const order = this.#balancer.decide(pool);
    if (order === null) return;
    const {
      worker: { worker, connections },
      count,
    } = order;
    const counts = pool.map((p) => p.connections);
    worker.log.debug(
      { event: 'shed', count, pool: counts },
      `holds ${connections} of ${counts.reduce((a, b) => a + b, 0)} kept-alive connections: shedding ${count}`,
    );
    worker.send({ type: 'shed', count });
  }

  #onTransition({ worker, from, to, reason }: Transition): void {
    worker.log.info({ event: 'worker', state: to, from, reason }, `${to}: ${reason}`);
    if (to !== 'ready') return;
    this.#health.watch(worker);
    this.#pool.replacements.promoted(worker);
    if (this.#state === 'starting' && this.#pool.readyCount() >= this.#pool.desired) {
      this.#state = 'running';
      const urls = this.#urls();
      this.#log.info(
        { event: 'ready', workers: this.#pool.readyCount(), addresses: urls },
        `ready: ${this.#pool.readyCount()} workers serving ${urls.join(', ')}`,
      );
      void this.deps.notifier?.ready(this.status());
      this.deps.onReady?.(urls);
    }
    this.#pool.maintain();
  }

  /** Where the workers serve: the shared sockets, then each slot's own. */
  #urls(): string[] {
    return [...this.deps.slots.shared, ...this.deps.slots.all()].map((l) => l.url);
  }

  /** The pool as `prefork status` and the metrics show it. */
  snapshot(now = Date.now()): PoolStatus {
    return poolStatus(
      {
        config: this.#config,
        state: this.#state,
        startedAt: this.startedAt,
        binds: [...this.deps.slots.shared.map((l) => l.url), ...this.deps.slots.templates()],
        addresses: (slot) => this.deps.slots.own(slot).map((l) => l.url),
        desired: this.#pool.desired,
        ready: this.#pool.readyCount(),
        reloading: this.#reloads.active,
        generation: this.#pool.generation,
        stats: this.stats,
        workers: [...this.#pool].map((handle) => ({ handle, generation: handle.generation })),
      },
      now,
    );
  }

  /** What /livez and /readyz answer from: cheap, read afresh for every probe. */
  probe(): ProbeState {
    const state = this.#handedOver ? 'handed-over' : this.#state;
    return { state, serving: this.#pool.readyCount(), desired: this.#pool.desired };
  }

  /** One line for systemd's STATUS= (shown by systemctl status). */
  status(): string {
    return `${this.#pool.readyCount()} workers serving ${this.#urls().join(', ')}`;
  }

  // ── exits ───────────────────────────────────────────────────────────────────────────────

  #onExit(handle: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const before = handle.state;
    const reason = handle.exited(code, signal);
    this.#pool.remove(handle);
    const cause = handle.exitCause ?? (before === 'draining' || this.#state === 'stopping' ? null : 'crash');
    this.stats.exited(handle, this.#state === 'stopping' ? null : cause, reason);

    if (this.#state === 'stopping') {
      this.#stopping.workerGone();
      return;
    }
    this.#scaling.releaseSlots();
    if (before === 'booting' && this.#state === 'starting') {
      // The app cannot start: stop rather than fork the same failure forever.
      const how = signal !== null ? `signal ${signal}` : `code ${code}`;
      this.#fatal(
        handle.bootFailure ??
          `app ${this.#config.app}: worker ${handle.slot} exited with ${how} while loading, before it was ready`,
        ExitCode.appLoad,
      );
      return;
    }
    if (this.#pool.replacements.exited(handle, reason) === 'reload') this.#reloads.failed();
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
      worker.log.error({ event: 'worker-hung' }, `hung: ${detail}; killing it`);
      worker.killReason = `killed: hung, ${detail}`;
      worker.exitCause = 'timeout';
      worker.kill();
    }
  }

  // ── reload and scale ────────────────────────────────────────────────────────────────────

  /** SIGHUP (reload.ts). Resolves once the reload started (null) or with why it could not. */
  reload(): Promise<string | null> {
    return this.#reloads.ask();
  }

  /** A reloaded configuration is in force: new workers get its settings. */
  #apply(config: Config): void {
    this.#config = config;
    this.#settings = this.deps.settingsFor(config);
    this.#health.limits = this.#healthLimits();
    this.#log.level = config.logLevel;
  }

  /** TTIN/TTOU and reloads (scaling.ts). */
  scale(target: number): void {
    this.#scaling.scale(target);
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
      const why =
        this.#state === 'starting'
          ? 'this master is still starting (its workers are not all serving yet)'
          : 'this master is stopping';
      this.#log.warn({ event: 'upgrade-refused', reason: why }, `SIGUSR2 refused: ${why}`);
      return;
    }
    this.deps.upgrade?.start();
  }

  /**
   * A hot upgrade's new master serves: our workers drain at once (no --shutdown-delay: the new ones
   * accept already), then we leave.
   */
  handOver(newPid: number): void {
    this.#handedOver = true;
    this.stop('graceful', `hot upgrade: master ${newPid} took over`, { handover: true });
  }

  // ── stopping ────────────────────────────────────────────────────────────────────────────

  #fatal(message: string, code: ExitCodeValue): void {
    this.#log.fatal({ event: 'fatal', reason: message }, message);
    process.stderr.write(`prefork: ${message}\n`);
    this.#exitCode = code;
    // TERM, not KILL: a booting worker's app may have started processes that must end with it.
    this.stop(this.deps.fatalStop ?? 'immediate', 'fatal error', { shutdownDelay: false, term: true });
  }

  /**
   * graceful: after --shutdown-delay (workers keep accepting meanwhile, so load balancers and
   * Kubernetes endpoints can stop sending first), every worker drains (up to --graceful-timeout,
   * then it is killed). immediate: every worker is killed now. A graceful stop asked for twice,
   * even during the delay, becomes immediate. `handover`: a hot upgrade's new master serves, so
   * no --shutdown-delay, no STOPPING=1 (the notifier is muted) and the upgrade is not aborted.
   */
  stop(mode: StopMode, why: string, opts: StopOptions = {}): void {
    if (this.#state === 'stopping' && mode === 'graceful') mode = 'immediate';
    this.#state = 'stopping';
    if (this.#healthTimer !== null) clearInterval(this.#healthTimer);
    this.#stopping.stop(mode, why, opts);
  }
}
