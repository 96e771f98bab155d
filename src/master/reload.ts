import { reloadedConfig } from '../config/config.js';
import type { Logger } from '../shared/log.js';
import type { Config } from '../config/options.js';
import type { WorkerPool } from './pool.js';
import type { SystemdNotifier } from './systemd.js';

export interface ReloadHost {
  log: Logger;
  pool: WorkerPool;
  notifier: SystemdNotifier | null;
  /** Reads the configuration afresh (config file, env, argv). */
  readConfig: () => Promise<Config>;
  /** The configuration in force. */
  config: () => Config;
  /** Puts a reloaded configuration in force (worker settings, health limits, log level). */
  apply: (config: Config) => void;
  stopping: () => boolean;
  scale: (target: number) => void;
  /** systemd's STATUS= line. */
  status: () => string;
}

/**
 * SIGHUP: read the config again, then replace every worker, surge first, batch by batch (the pool
 * does the replacing). A reload asked for during another coalesces: the newest config wins,
 * successors booting with an older one stop, and the pool ends with one new worker per slot and
 * systemd hears RELOADING=1 once and READY=1 once.
 */
export class Reloads {
  /** A reload is under way: not every worker serves the newest config yet. */
  #active = false;
  /** Reloads asked for so far: only the newest one applies its config (overlapping ones coalesce). */
  #asks = 0;
  /** The newest reload's outcome, which the reloads it superseded answer with. */
  #last: Promise<string | null> = Promise.resolve(null);

  constructor(private readonly host: ReloadHost) {}

  get active(): boolean {
    return this.#active;
  }

  /** Resolves once the reload started (null) or with why it could not. */
  ask(): Promise<string | null> {
    this.#last = this.#once((this.#asks += 1));
    return this.#last;
  }

  async #once(ask: number): Promise<string | null> {
    const { host } = this;
    if (host.stopping()) return 'the master is stopping';
    let next: Config;
    try {
      next = await host.readConfig();
    } catch (err) {
      const reason = (err as Error).message;
      host.log.error({ event: 'reload-failed', reason }, `reload aborted, the current workers keep serving: ${reason}`);
      return `reload aborted, the current workers keep serving: ${reason}`;
    }
    // A newer reload was asked for while we read: it reads the newest config and does the work.
    if (ask !== this.#asks) return this.#last;
    if (host.stopping()) return 'the master is stopping';
    const { config, ignored } = reloadedConfig(host.config(), next);
    if (ignored.length > 0) {
      host.log.warn(
        { event: 'reload-ignored', options: ignored },
        `reload: ${ignored.join(', ')} changed; that needs a restart (or hot upgrade), ignored until then`,
      );
    }
    host.apply(config);
    host.pool.generation += 1;
    host.pool.replaceStale = true;
    // systemd hears RELOADING=1 once, and READY=1 once when the last reload is done.
    if (!this.#active) void host.notifier?.reloading();
    this.#active = true;
    host.log.info(
      { event: 'reload', workers: config.workers, app: config.app },
      `reloading: replacing every worker, ${config.reloadBatch} at a time`,
    );
    const { replacements } = host.pool;
    for (const s of replacements.inFlight('reload')) replacements.cancel(s, 'a newer reload started');
    host.scale(config.workers);
    host.pool.maintain();
    return null;
  }

  /** A reload's new worker failed before serving: the older workers keep serving until the next reload. */
  failed(): void {
    if (!this.#active) return;
    this.host.pool.replaceStale = false;
    this.#active = false;
    void this.host.notifier?.ready(this.host.status());
  }

  /** After every pass of the pool: the reload is done once no worker boots and none older serves. */
  check(): void {
    const { pool } = this.host;
    if (!this.#active || pool.replacements.busy) return;
    for (const w of pool) {
      if (w.state === 'booting' || (w.state === 'ready' && w.generation < pool.generation)) return;
    }
    this.#active = false;
    const ready = pool.readyCount();
    this.host.log.info({ event: 'reload-done', workers: ready }, `reload done: ${ready} workers serving`);
    void this.host.notifier?.ready(this.host.status());
  }
}
