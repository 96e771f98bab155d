/**
 * Crash-loop back-off: a worker that dies before it was ever ready, sooner than --min-uptime
 * after it started, makes the next start wait 0.1 s, then 0.2, 0.4 … up to 30 s; a worker that
 * lived long enough resets it, whether it then dies or lives on (survived()).
 * A worker that reached ready is replaced at once, however young: the app loads, so its death
 * (an OOM kill, an operator's kill -9, a fatal bug on one route) is no crash loop, and waiting
 * would only leave its slot empty. No floor is needed against an app that dies right after
 * ready: a slot has one booting worker at a time, so it restarts at the pace of its own boot.
 * One streak for the whole pool: every worker runs the same code, so they crash alike.
 */
export class CrashBackoff {
  #streak = 0;
  /** When the current streak's first early death happened. */
  #since = 0;

  constructor(
    private readonly minUptimeMs: () => number,
    private readonly firstMs = 100,
    private readonly maxMs = 30_000,
  ) {}

  /** Delay before the next start, given how long the dead worker lived and whether it was ever ready. */
  next(uptimeMs: number, now = Date.now(), reachedReady = false): number {
    if (uptimeMs >= this.minUptimeMs()) {
      this.#streak = 0;
      return 0;
    }
    // Neither a crash loop nor proof against one (the next boot may fail where this one did not).
    if (reachedReady) return 0;
    if (this.#streak === 0) this.#since = now;
    this.#streak += 1;
    return Math.min(this.maxMs, this.firstMs * 2 ** (this.#streak - 1));
  }

  /**
   * A worker started since the streak began is still alive past --min-uptime: the app runs, so
   * the early deaths were not a crash loop (a kill -9 spree, an OOM kill): the streak ends, and
   * the next early death waits 0.1 s again, not its doubled delay. A worker older than the streak
   * proves nothing (the new ones may be failing where it did not), so it does not count.
   */
  survived(startedAt: number, now = Date.now()): void {
    if (this.#streak > 0 && startedAt >= this.#since && now - startedAt >= this.minUptimeMs()) this.#streak = 0;
  }
}
