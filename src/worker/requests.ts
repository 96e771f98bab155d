import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, accessLogger } from '../shared/log.js';
import { type RequestStats, emptyStats, record } from '../shared/request-stats.js';

/** When a timed request started (performance.now()), on the response itself: no Map entry per request. */
const STARTED = Symbol('prefork.started');
type Tracked = ServerResponse & { [STARTED]?: number };

/**
 * The worker's request accounting: what is in flight (for the drain, --limit-concurrency and the
 * heartbeat), how many were served (for --max-requests), the request statistics and the access
 * log. A request costs a Set entry and one 'close' listener; it is timed only when something reads
 * the time (--metrics-bind's histogram, --access-log).
 */
export class Requests {
  /** Responses not yet closed: their count is the in-flight figure, and a drain marks them. */
  readonly #inflight = new Set<ServerResponse>();
  #served = 0;
  /** Cumulative; the master reads them from each heartbeat, so counting costs no IPC per request. */
  readonly stats: RequestStats = emptyStats();
  #access: Logger | null = null;
  readonly #timed: boolean;
  /**
   * Made once, not per request: a closure and a once() wrapper for every request showed up in
   * close-mode profiles (allocations, then GC). `this` is the response; 'close' fires once.
   */
  readonly #closed: (this: ServerResponse) => void;

  constructor(
    private readonly log: Logger,
    private readonly accessLog: boolean,
    /** Time requests for the duration histogram. */
    private readonly durations: boolean,
    /** A request finished: a drain may be waiting for it. */
    private readonly finished: () => void,
  ) {
    this.#timed = accessLog || durations;
    const finish = this.#finish.bind(this);
    this.#closed = function (this: ServerResponse) {
      finish(this);
    };
  }

  /** Requests taken so far (refused ones not counted). */
  get served(): number {
    return this.#served;
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  /** --limit-concurrency: a request beyond it is answered 503 at once (see refuse()). */
  full(limit: number): boolean {
    return limit > 0 && this.#inflight.size >= limit;
  }

  /** Shed load at once: a queue here would only add latency the client cannot see coming. */
  refuse(res: ServerResponse): void {
    const body = 'Service Unavailable: too many requests in flight\n';
    res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' }).end(body);
    record(this.stats, 503, this.durations ? 0 : null);
  }

  /** Counts a request taken; returns how many have been taken, this one included. */
  take(): number {
    return (this.#served += 1);
  }

  /** In flight from now until its response closes. */
  track(res: Tracked): void {
    this.#inflight.add(res);
    if (this.#timed) res[STARTED] = performance.now();
    res.on('close', this.#closed);
  }

  /** For the drain: responses not yet started tell their clients to take the next request elsewhere. */
  closeAfterResponse(): void {
    for (const res of this.#inflight) if (!res.headersSent) res.shouldKeepAlive = false;
  }

  #finish(res: Tracked): void {
    if (!this.#inflight.delete(res)) return;
    if (this.#timed) {
      const ms = performance.now() - res[STARTED]!;
      record(this.stats, res.statusCode, this.durations ? ms / 1000 : null);
      if (this.accessLog) this.#accessLog(res.req, res, ms);
    } else {
      record(this.stats, res.statusCode, null);
    }
    this.finished();
  }

  /** Written here, by the worker that served the request: the master stays off the request path. */
  #accessLog(req: IncomingMessage, res: ServerResponse, ms: number): void {
    // JSON even under --log-format pretty; the worker id comes with the logger's base fields.
    this.#access ??= accessLogger(this.log);
    this.#access.info(
      { event: 'access', method: req.method, path: req.url, status: res.statusCode, ms: Math.round(ms * 1000) / 1000 },
      `${req.method} ${req.url} ${res.statusCode}`,
    );
  }
}
