import type { WorkerHandle } from './worker-handle.js';

/**
 * Judges workers from their heartbeats: a worker whose event loop has not beaten for longer
 * than --timeout is hung; one whose RSS stayed above --max-memory for several beats in a row is
 * bloated. Pure bookkeeping: the master decides what to do about a verdict.
 */
export interface HealthLimits {
  /** 0 = hang detection off. */
  timeoutMs: number;
  /** 0 = memory limit off. */
  maxMemoryBytes: number;
  heartbeatMs: number;
  /** How often the master calls hung(): a call much later than that means the master was not awake. */
  checkMs: number;
}

/** A check this late (in check intervals) means the master itself was stopped, paused or starved. */
const PAUSED_AFTER_CHECKS = 4;

/** RSS must stay above the limit this many beats in a row: one allocation spike is not a leak. */
export const MEMORY_SAMPLES = 3;

export type Verdict = { worker: WorkerHandle; problem: 'hung' | 'bloated'; detail: string };

interface Vitals {
  lastBeat: number;
  /** The monitor's unobserved time when that beat came. */
  unobservedAtBeat: number;
  rss: number;
  overLimit: number;
}

/**
 * How often a worker beats for a given --timeout. At least once a second whatever the options:
 * the beat also carries the request counts and RSS that status and metrics show.
 */
export function heartbeatInterval(timeoutS: number): number {
  return timeoutS > 0 ? Math.max(50, Math.min(1000, (timeoutS * 1000) / 4)) : 1000;
}

export class HealthMonitor {
  readonly #vitals = new WeakMap<WorkerHandle, Vitals>();
  /**
   * Time the master was not awake to watch (SIGSTOP, a VM pause, a suspend, a cgroup freezer):
   * never held against a worker, which was frozen too or served all along with its beats
   * waiting unread in the pipe. As unicorn does, a hang is judged on observed time only.
   */
  #unobserved = 0;
  #lastCheck: number | null = null;

  constructor(public limits: HealthLimits) {}

  /** Starts the clock for a worker that just became ready. */
  watch(worker: WorkerHandle, now = Date.now()): void {
    // A pause before the first check counts too (a master stopped right after its workers got ready).
    this.#lastCheck ??= now;
    this.#vitals.set(worker, { lastBeat: now, unobservedAtBeat: this.#unobserved, rss: 0, overLimit: 0 });
  }

  beat(worker: WorkerHandle, rss: number, now = Date.now()): Verdict | null {
    const v = this.#vitals.get(worker);
    if (v === undefined) return null;
    v.lastBeat = now;
    v.unobservedAtBeat = this.#unobserved;
    v.rss = rss;
    const { maxMemoryBytes } = this.limits;
    v.overLimit = maxMemoryBytes > 0 && rss > maxMemoryBytes ? v.overLimit + 1 : 0;
    if (v.overLimit === MEMORY_SAMPLES) {
      return {
        worker,
        problem: 'bloated',
        detail: `RSS ${Math.round(rss / 1048576)} MB above --max-memory ${Math.round(maxMemoryBytes / 1048576)} MB for ${MEMORY_SAMPLES} beats`,
      };
    }
    return null;
  }

  rss(worker: WorkerHandle): number {
    return this.#vitals.get(worker)?.rss ?? 0;
  }

  /**
   * Hung workers. A beat may be up to one interval late without the loop being blocked, so
   * the allowance is timeout + interval: a worker is never killed for less than --timeout.
   * Silence counts only while the master was awake: a check far later than scheduled discounts
   * the gap beyond one interval.
   */
  hung(workers: Iterable<WorkerHandle>, now = Date.now()): Verdict[] {
    const { timeoutMs, heartbeatMs, checkMs } = this.limits;
    const gap = this.#lastCheck === null ? 0 : now - this.#lastCheck;
    if (gap > PAUSED_AFTER_CHECKS * checkMs) this.#unobserved += gap - checkMs;
    this.#lastCheck = now;
    if (timeoutMs <= 0) return [];
    const verdicts: Verdict[] = [];
    for (const worker of workers) {
      const v = this.#vitals.get(worker);
      if (v === undefined || (worker.state !== 'ready' && worker.state !== 'draining')) continue;
      const silent = now - v.lastBeat - (this.#unobserved - v.unobservedAtBeat);
      if (silent > timeoutMs + heartbeatMs) {
        verdicts.push({
          worker,
          problem: 'hung',
          detail: `event loop blocked for ${(silent / 1000).toFixed(1)} s (--timeout ${timeoutMs / 1000} s)`,
        });
        v.lastBeat = Number.POSITIVE_INFINITY; // one verdict per worker
      }
    }
    return verdicts;
  }
}
