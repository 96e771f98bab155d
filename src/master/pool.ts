import { availableParallelism } from 'node:os';
import { CrashBackoff } from './backoff.js';
import type { Logger } from '../shared/log.js';
import type { WorkerMessage } from '../shared/messages.js';
import type { Config } from '../config/options.js';
import { Replacements } from './replacement.js';
import { timerMs } from '../shared/timers.js';
import { type Spawn, type Transition, WorkerHandle } from './worker-handle.js';

export interface PoolDeps {
  spawn: Spawn;
  log: Logger;
  /** The configuration in force (a reload changes it). */
  config: () => Config;
  /** What a worker says, its state changes and its exit go to the master. */
  onMessage: (worker: WorkerHandle, message: WorkerMessage) => void;
  onTransition: (t: Transition) => void;
  onExit: (worker: WorkerHandle, code: number | null, signal: NodeJS.Signals | null) => void;
  /** The end of every pass: the master reports a reload done. */
  afterPass: () => void;
}

const live = (w: WorkerHandle): boolean => w.state === 'booting' || w.state === 'ready';

/**
 * The most workers the pass forks while others still boot. A worker needs 0.1-0.2 s of CPU to
 * start (Node, prefork's worker code, the app): 256 forked at once on 2 cores each took a minute,
 * past the default --boot-timeout, so the master gave up with exit 4. In waves, each worker boots
 * in about the time it would alone, and the pool is ready no later: the cores were the limit.
 * Successors of a reload are not counted here: --reload-batch bounds those.
 */
export const MAX_BOOTING = Math.max(16, 2 * availableParallelism());

/**
 * The worker table and the one pass that keeps it whole, as gunicorn's manage_workers, puma's
 * check_workers and unicorn's maintain_worker_count do: workers above the desired count drain, a
 * slot holds one worker (plus a successor booting to replace it), an empty slot is forked unless
 * it waits out a crash back-off, workers older than the last reload are queued for replacement.
 * It runs after every change and on every health check, so no event needs to re-check coverage.
 */
export class WorkerPool {
  readonly #workers = new Set<WorkerHandle>();
  /** Slots waiting out a crash back-off. */
  readonly #pendingSpawns = new Map<number, NodeJS.Timeout>();
  readonly #backoff: CrashBackoff;
  readonly replacements: Replacements;
  desired: number;
  /** The reload generation new workers get. */
  generation = 0;
  /** False after a reload's new worker failed: the older workers keep serving until the next reload. */
  replaceStale = true;
  #stopped = false;
  #passing = false;
  #again = false;

  constructor(private readonly deps: PoolDeps) {
    this.desired = deps.config().workers;
    this.#backoff = new CrashBackoff(() => deps.config().minUptime * 1000);
    this.replacements = new Replacements({
      batch: () => deps.config().reloadBatch,
      allowed: (old) => !this.#stopped && old.slot < this.desired,
      spawn: (slot) => this.spawn(slot),
      log: deps.log,
    });
  }

  [Symbol.iterator](): IterableIterator<WorkerHandle> {
    return this.#workers.values();
  }

  get size(): number {
    return this.#workers.size;
  }

  readyCount(): number {
    let ready = 0;
    for (const w of this.#workers) if (w.state === 'ready') ready += 1;
    return ready;
  }

  spawn(slot: number): WorkerHandle {
    const { deps } = this;
    let bootTimer: NodeJS.Timeout | undefined;
    const handle: WorkerHandle = new WorkerHandle(
      slot,
      deps.spawn(slot, {
        message: (m) => deps.onMessage(handle, m),
        exit: (code, signal) => deps.onExit(handle, code, signal),
        get log() {
          return handle.log;
        },
      }),
      (t) => {
        if (t.from === 'booting') clearTimeout(bootTimer);
        if (t.to === 'draining' && !this.#stopped) this.#limitDrain(handle);
        deps.onTransition(t);
      },
      deps.log,
    );
    handle.generation = this.generation;
    this.#workers.add(handle);
    handle.log.info({ event: 'worker', state: 'booting' }, 'booting');
    const { bootTimeout } = deps.config();
    bootTimer = setTimeout(() => {
      if (handle.state !== 'booting') return;
      // The worker's own reason, when it sent one, says more.
      handle.bootFailure ??= `not ready within --boot-timeout ${bootTimeout} s`;
      handle.kill();
    }, bootTimeout * 1000);
    return handle;
  }

  /** A worker left (its exit is logged): out of the table. */
  remove(handle: WorkerHandle): void {
    this.#workers.delete(handle);
  }

  /**
   * After an exit: a slot left empty by a worker that died before it ever served waits out the
   * crash back-off; any other empty slot is forked again at once by the next pass.
   */
  refill(handle: WorkerHandle, planned: boolean): void {
    if (this.#stopped || handle.slot >= this.desired) return;
    if ([...this.#workers].some((w) => w.slot === handle.slot && live(w))) return;
    const delay = planned ? 0 : this.#backoff.next(handle.uptime(), Date.now(), handle.readyAt !== null);
    if (delay > 0) this.#backOff(handle, delay);
  }

  /** Health tick: ready workers old enough end a crash streak. */
  checkUptimes(): void {
    for (const worker of this.#workers) if (worker.state === 'ready') this.#backoff.survived(worker.startedAt);
  }

  maintain(): void {
    if (this.#stopped) return;
    // Draining or forking a worker changes the pool again (and calls back here): one pass at a time.
    if (this.#passing) {
      this.#again = true;
      return;
    }
    this.#passing = true;
    try {
      do {
        this.#again = false;
        this.#pass();
      } while (this.#again && !this.#stopped);
    } finally {
      this.#passing = false;
    }
  }

  /** The master stops: no more forks, back-offs or replacements. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#pendingSpawns.values()) clearTimeout(timer);
    this.#pendingSpawns.clear();
    this.replacements.clear();
  }

  #pass(): void {
    // The worker of each slot, and the slots that hold more than one (never expected). A pass runs
    // after every transition: one Map entry per worker, no array unless a slot is crowded.
    const bySlot = new Map<number, WorkerHandle>();
    const crowded = new Map<number, WorkerHandle[]>();
    for (const w of this.#workers) {
      if (!live(w)) continue;
      if (w.slot >= this.desired) {
        this.#retire(w, 'scaled down');
        continue;
      }
      // A successor booting beside the worker it replaces is the one extra a slot may hold.
      if (w.replaces !== null && live(w.replaces.old)) continue;
      const other = bySlot.get(w.slot);
      if (other === undefined) bySlot.set(w.slot, w);
      else crowded.set(w.slot, [...(crowded.get(w.slot) ?? [other]), w]);
    }
    for (const [slot, timer] of this.#pendingSpawns) {
      if (slot < this.desired) continue;
      clearTimeout(timer);
      this.#pendingSpawns.delete(slot);
    }
    for (const extras of crowded.values()) {
      // Never expected: the safety net that keeps one worker per slot whatever raced. The newest ready one stays.
      const ready = (w: WorkerHandle): number => Number(w.state === 'ready');
      extras.sort((a, b) => ready(b) - ready(a) || b.generation - a.generation || b.startedAt - a.startedAt);
      for (const extra of extras.slice(1)) this.#retire(extra, `another worker serves slot ${extra.slot}`);
    }
    let booting = 0;
    for (const w of this.#workers) if (w.state === 'booting') booting += 1;
    for (let slot = 0; slot < this.desired && booting < MAX_BOOTING; slot += 1) {
      if (bySlot.has(slot) || this.#pendingSpawns.has(slot)) continue;
      this.spawn(slot);
      booting += 1;
    }
    if (this.replaceStale) {
      for (const w of this.#workers) {
        if (w.state === 'ready' && w.generation < this.generation) this.replacements.queue(w, 'reload');
      }
    }
    this.replacements.pump();
    this.deps.afterPass();
  }

  /** A worker no longer wanted drains (a successor still booting just stops; its old worker stays). */
  #retire(w: WorkerHandle, why: string): void {
    if (w.replaces !== null) return this.replacements.cancel(w, why);
    if (w.state === 'ready') w.exitCause = 'scale';
    w.drain(why);
  }

  /** A worker drains for at most --graceful-timeout (it enforces that itself; this is the backstop). */
  #limitDrain(worker: WorkerHandle): void {
    const { gracefulTimeout } = this.deps.config();
    setTimeout(
      () => {
        if (worker.state !== 'draining') return;
        worker.killReason = `killed: still draining after --graceful-timeout ${gracefulTimeout} s`;
        worker.kill();
      },
      timerMs(gracefulTimeout, 1000),
    ).unref();
  }

  /** The slot of `died` stays empty for `delay` ms: its workers die before they ever serve. */
  #backOff(died: WorkerHandle, delay: number): void {
    const { slot } = died;
    if (this.#pendingSpawns.has(slot)) return;
    died.log.warn({ event: 'backoff', delayMs: delay }, `crash-looping: next start in ${delay} ms`);
    this.#pendingSpawns.set(
      slot,
      setTimeout(() => {
        this.#pendingSpawns.delete(slot);
        this.maintain();
      }, delay),
    );
  }
}
