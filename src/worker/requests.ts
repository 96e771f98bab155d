import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, accessLogger } from '../shared/log.js';
import { type RequestStats, emptyStats, record } from '../shared/request-stats.js';

/** When a timed request started (performance.now()), on the response itself: no Map entry per request. */
const STARTED = Symbol('prefork.started');
type Tracked = ServerResponse & { [STARTED]?: number };

/**
 * The worker's request accounting: how many were taken (for --max-requests), and, when something
 * reads them (WorkerSettings.countResponses), how many are in flight (for --limit-concurrency and
 * the heartbeat), the request statistics and the access log. Counted, a request costs one 'close'
 * listener (no Set entry: in keep-alive benchmarks one cost as much as the rest together), ~4 % of
 * a hello-world request's CPU; otherwise nothing. It is timed only when something reads the time
 * (--metrics-bind's histogram, --access-log). A drain needs none of it: a request in flight holds
 * its connection open, and the drain waits for the connections (see Connections).
 */
export class Requests {
  /** Responses not yet closed. */
  #inflight = 0;
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
    /** Follow each response to its end (see WorkerSettings.countResponses). */
    private readonly counting = true,
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
    return this.#inflight;
  }

  /** --limit-concurrency: a request beyond it is answered 503 at once (see refuse()). */
  full(limit: number): boolean {
    return limit > 0 && this.#inflight >= limit;
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
    if (!this.counting) return;
    this.#inflight += 1;
    if (this.#timed) res[STARTED] = performance.now();
    res.on('close', this.#closed);
  }

  /** Its response closed ('close' fires once per response, whether it finished or was cut). */
  #finish(res: Tracked): void {
    this.#inflight -= 1;
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
