/**
 * Crash-loop back-off: a worker that dies sooner than --min-uptime after it started makes the
 * next start wait 0.1 s, then 0.2, 0.4 … up to 30 s; a worker that lived long enough resets it,
 * whether it then dies or lives on (survived()).
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

  /** Delay before the next start, given how long the dead worker lived. */
  next(uptimeMs: number, now = Date.now()): number {
    if (uptimeMs >= this.minUptimeMs()) {
      this.#streak = 0;
      return 0;
    }
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
