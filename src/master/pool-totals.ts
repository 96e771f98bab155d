/**
 * The master's ledger of its pool: what each live worker's last heartbeat said (Vitals), restarts
 * by reason and slot, and request totals that never go down as workers leave. A moment's view of
 * it for `prefork status` is status-snapshot.ts; the per-request counting is request-stats.ts.
 */
import { type RequestStats, add, emptyStats, total } from '../shared/request-stats.js';

/** Why a worker was replaced or removed: the label of prefork_worker_restarts_total. */
export const RESTART_REASONS = ['max_requests', 'max_memory', 'crash', 'timeout', 'reload', 'scale'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/** A worker as the ledger keys it: by identity, with its slot (a WorkerHandle). */
interface Counted {
  readonly slot: number;
}

/** What the master last heard from a worker's heartbeat. */
export interface Vitals {
  requests: number;
  inflight: number;
  /** Open connections that carried more than one request: what balance.ts evens out. */
  keepAlive: number;
  /** False in drop-in mode: the app's own server cannot pause accepting. */
  canShed: boolean;
  rss: number;
  lagMs: number;
  stats: RequestStats;
}

/**
 * The master's running totals over the life of the pool. Workers report cumulative counts; a
 * worker that leaves has its last counts folded into `retired`, so totals never go down.
 */
export class PoolTotals {
  readonly #live = new Map<Counted, Vitals>();
  #retired: RequestStats = emptyStats();
  readonly restarts: Record<RestartReason, number> = {
    max_requests: 0,
    max_memory: 0,
    crash: 0,
    timeout: 0,
    reload: 0,
    scale: 0,
  };
  /** Per slot: restarts so far and why its last worker left. */
  readonly #slots = new Map<number, { restarts: number; lastExit: string | null }>();

  beat(worker: Counted, vitals: Vitals): void {
    this.#live.set(worker, vitals);
  }

  vitals(worker: Counted): Vitals | undefined {
    return this.#live.get(worker);
  }

  /** A worker left: keep its counts, and count the restart when it was one. */
  exited(worker: Counted, reason: RestartReason | null, description: string): void {
    const last = this.#live.get(worker);
    if (last !== undefined) this.#retired = add(this.#retired, last.stats);
    this.#live.delete(worker);
    const slot = this.#slots.get(worker.slot) ?? { restarts: 0, lastExit: null };
    slot.lastExit = description;
    if (reason !== null) {
      this.restarts[reason] += 1;
      slot.restarts += 1;
    }
    this.#slots.set(worker.slot, slot);
  }

  slot(slot: number): { restarts: number; lastExit: string | null } {
    return this.#slots.get(slot) ?? { restarts: 0, lastExit: null };
  }

  /** Every request the pool finished, live and retired workers together. */
  totals(): RequestStats {
    let sum = this.#retired;
    for (const v of this.#live.values()) sum = add(sum, v.stats);
    return sum;
  }

  inflight(): number {
    let n = 0;
    for (const v of this.#live.values()) n += v.inflight;
    return n;
  }

  requests(): number {
    return total(this.totals());
  }
}
