import type { Logger } from '../shared/log.js';
import type { Config } from '../config/options.js';
import type { WorkerPool } from './pool.js';
import type { SystemdNotifier } from './systemd.js';
import { timerMs } from '../shared/timers.js';

export interface StopHost {
  log: Logger;
  pool: WorkerPool;
  notifier: SystemdNotifier | null;
  config: () => Config;
  /** Stops a hot upgrade's new master still starting (MasterDeps.upgrade). */
  abortUpgrade: (why: string) => void;
  /** Closes the master's copies of the listeners (MasterDeps.stopListening). */
  closeListeners: () => void;
  /** Every worker is gone: the master is done. */
  finished: () => void;
}

export type StopMode = 'graceful' | 'immediate';
export interface StopOptions {
  handover?: boolean;
  shutdownDelay?: boolean;
  /**
   * immediate only: TERM first, KILL after FATAL_GRACE_S (or --graceful-timeout if shorter), so
   * that a worker's app can end its own child processes; a fatal boot failure stops this way.
   */
  term?: boolean;
}

/** The most a fatal stop waits for TERMed workers before it KILLs them. */
export const FATAL_GRACE_S = 5;

/**
 * The stop sequence, once the master decided to stop (Master.stop says how each mode goes):
 * --shutdown-delay, the drain, its --graceful-timeout backstop, and the end once every worker left.
 */
export class Stopping {
  #stopTimer: NodeJS.Timeout | null = null;
  /** Pending start of the drain while --shutdown-delay runs. */
  #delayTimer: NodeJS.Timeout | null = null;
  /** False once the listeners were closed: no worker gets them again. */
  #listening = true;

  constructor(private readonly host: StopHost) {}

  get listening(): boolean {
    return this.#listening;
  }

  stop(mode: StopMode, why: string, opts: StopOptions): void {
    const { host } = this;
    const handover = opts.handover ?? false;
    const shutdownDelay = opts.shutdownDelay ?? !handover;
    if (!handover) host.abortUpgrade(why);
    host.pool.stop();
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#delayTimer = null;
    const delay = mode === 'graceful' && shutdownDelay ? host.config().shutdownDelay : 0;
    host.log.info(
      { event: 'stopping', mode, reason: why, workers: host.pool.size, delay },
      `stopping (${mode}): ${why}${delay > 0 ? `; serving ${delay} s more (--shutdown-delay) before draining` : ''}`,
    );
    void host.notifier?.stopping();
    if (mode === 'immediate') {
      if (!handover) this.#stopListening();
      if (opts.term === true) this.#terminateAll();
      else for (const w of host.pool) w.kill();
    } else if (delay > 0) {
      this.#delayTimer = setTimeout(() => {
        this.#delayTimer = null;
        host.log.info(
          { event: 'shutdown-delay-over', workers: host.pool.size },
          `--shutdown-delay ${delay} s over: draining`,
        );
        this.#drainAll(!handover);
      }, delay * 1000);
    } else {
      this.#drainAll(!handover);
    }
    this.workerGone();
  }

  /** A worker left while stopping (and once when the stop begins): the last one ends the master. */
  workerGone(): void {
    if (this.host.pool.size > 0) return;
    if (this.#stopTimer !== null) clearTimeout(this.#stopTimer);
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.host.finished();
  }

  /** `stopListening`: false for a hand-over, whose sockets the new master serves. */
  #drainAll(stopListening: boolean): void {
    const { host } = this;
    if (stopListening) this.#stopListening();
    for (const w of host.pool) w.drain('master stopping');
    // The backstop: each worker ends its own drain at --graceful-timeout (closing what is still
    // open, then exiting); the second more lets it do so rather than be killed mid-way.
    this.#stopTimer ??= setTimeout(
      () => {
        host.log.warn(
          { event: 'graceful-timeout', workers: host.pool.size },
          'graceful timeout: killing the workers still busy',
        );
        for (const w of host.pool) w.kill();
      },
      timerMs(host.config().gracefulTimeout, 1000),
    );
  }

  #terminateAll(): void {
    const { host } = this;
    for (const w of host.pool) w.terminate();
    const grace = Math.min(host.config().gracefulTimeout, FATAL_GRACE_S);
    if (this.#stopTimer !== null) clearTimeout(this.#stopTimer);
    this.#stopTimer = setTimeout(() => {
      if (host.pool.size > 0) {
        host.log.warn(
          { event: 'graceful-timeout', workers: host.pool.size },
          `killing the workers still there after ${grace} s`,
        );
      }
      for (const w of host.pool) w.kill();
    }, timerMs(grace));
  }

  #stopListening(): void {
    if (!this.#listening) return;
    this.#listening = false;
    this.host.closeListeners();
  }
}
