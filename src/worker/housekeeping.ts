import type { Logger } from '../shared/log.js';

/** One line per task at most this often, however often it fails (a flood fails it every tick). */
const REPORT_EVERY_MS = 60_000;

/**
 * The worker's timer-driven chores (heartbeat, stats, balance reports, loop monitor) run beside
 * the requests, and nothing in them is worth a worker that serves fine: an error there (EMFILE
 * while reading /proc under a connection flood, for one) is logged, at most once a minute per
 * chore with a count of the ones left unsaid, and the next tick simply tries again.
 */
export class Housekeeping {
  readonly #reported = new Map<string, { at: number; unsaid: number }>();

  constructor(
    private readonly log: () => Logger | null,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs fn; an error it throws is reported and swallowed. */
  run(chore: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.failed(chore, err);
    }
  }

  failed(chore: string, err: unknown): void {
    const now = this.now();
    const last = this.#reported.get(chore);
    if (last !== undefined && now - last.at < REPORT_EVERY_MS) {
      last.unsaid += 1;
      return;
    }
    this.#reported.set(chore, { at: now, unsaid: 0 });
    const reason = (err as Error)?.message ?? String(err);
    const fields = { event: 'housekeeping-failed', chore, reason, unreported: last?.unsaid ?? 0 };
    try {
      this.log()?.warn(fields, `${chore} failed (tried again next time): ${reason}`);
    } catch {
      // Logging is housekeeping too.
    }
  }

  #rss = 0;

  /**
   * The resident set size, read from /proc, which takes a descriptor: when none is left, the
   * last reading stands in (the heartbeat that carries it matters more than its freshness).
   */
  rss(): number {
    this.run('memory reading', () => (this.#rss = process.memoryUsage.rss()));
    return this.#rss;
  }
}
