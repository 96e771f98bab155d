import type { Logger } from '../shared/log.js';
import { MAX_WORKERS } from '../config/limits.js';
import type { WorkerPool } from './pool.js';
import type { SlotSockets } from './slot-sockets.js';

export interface ScalingDeps {
  pool: WorkerPool;
  log: Logger;
  slots: SlotSockets;
  stopping: () => boolean;
}

/**
 * TTIN/TTOU and reloads: grow by forking new slots, shrink by draining the highest slots. A new
 * slot's own sockets (per-worker binds) are bound before it is forked; one that cannot be bound
 * is refused with a warning. A slot gone from the pool gives its sockets up once its last worker
 * has exited.
 */
export class Scaling {
  /** The worker count asked for: ahead of the pool's while a new slot's sockets are being bound. */
  target: number;

  constructor(private readonly deps: ScalingDeps) {
    this.target = deps.pool.desired;
  }

  scale(target: number): void {
    const { pool, slots, log } = this.deps;
    if (this.deps.stopping()) return;
    const desired = Math.max(1, Math.min(MAX_WORKERS, target));
    this.target = desired;
    if (slots.covered >= desired) {
      this.#resize(desired);
      return;
    }
    slots.bindUpTo(desired).then(
      () => {
        if (this.target === desired) this.#resize(desired);
        this.releaseSlots();
      },
      (err: Error) => {
        const reason = err.message;
        log.warn({ event: 'scale-refused', to: desired, reason }, `cannot scale to ${desired} workers: ${reason}`);
        if (this.target !== desired) return;
        this.target = Math.max(pool.desired, Math.min(desired, slots.covered));
        this.#resize(this.target);
      },
    );
  }

  #resize(desired: number): void {
    const { pool, log } = this.deps;
    if (this.deps.stopping() || desired === pool.desired) return;
    const from = pool.desired;
    pool.desired = desired;
    log.info({ event: 'scale', from, to: desired }, `scaling from ${from} to ${desired} workers`);
    pool.maintain();
    this.releaseSlots();
  }

  /** After an exit or a scale-down: a slot above the pool whose last worker has gone closes its own sockets. */
  releaseSlots(): void {
    const { pool, slots } = this.deps;
    if (this.deps.stopping()) return;
    const workers = [...pool];
    slots.release(Math.max(pool.desired, this.target), (slot) => workers.some((w) => w.slot === slot));
  }
}
