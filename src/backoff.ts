/**
 * Crash-loop back-off: a worker that dies sooner than --min-uptime after it started makes the
 * next start wait 0.1 s, then 0.2, 0.4 … up to 30 s; a worker that lived long enough resets it.
 * One streak for the whole pool: every worker runs the same code, so they crash alike.
 */
export class CrashBackoff {
  #streak = 0;

  constructor(
    private readonly minUptimeMs: () => number,
    private readonly firstMs = 100,
    private readonly maxMs = 30_000,
  ) {}

  /** Delay before the next start, given how long the dead worker lived. */
  next(uptimeMs: number): number {
    if (uptimeMs >= this.minUptimeMs()) {
      this.#streak = 0;
      return 0;
    }
    this.#streak += 1;
    return Math.min(this.maxMs, this.firstMs * 2 ** (this.#streak - 1));
  }
}
