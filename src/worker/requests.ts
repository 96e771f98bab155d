import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Logger, accessLogger } from '../shared/log.js';
import { type RequestStats, emptyStats, record } from '../shared/request-stats.js';

/**
 * The worker's request accounting: what is in flight (for the drain and the heartbeat), how many
 * were served (for --max-requests), the request statistics and the access log.
 */
export class Requests {
  /** Requests being served, with when each started (process.hrtime.bigint()). */
  readonly #inflight = new Map<ServerResponse, bigint>();
  #served = 0;
  /** Cumulative; the master reads them from each heartbeat, so counting costs no IPC per request. */
  readonly stats: RequestStats = emptyStats();
  #access: Logger | null = null;
  /**
   * Made once, not per request: a closure and a once() wrapper for every request showed up in
   * close-mode profiles (allocations, then GC). `this` is the response; 'close' fires once.
   */
  readonly #closed: (this: ServerResponse) => void;

  constructor(
    private readonly log: Logger,
    private readonly accessLog: boolean,
    /** A request finished: a drain may be waiting for it. */
    private readonly finished: () => void,
  ) {
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
    record(this.stats, 503, 0);
  }

  /** Counts a request taken; returns how many have been taken, this one included. */
  take(): number {
    return (this.#served += 1);
  }

  /** In flight from now until its response closes. */
  track(res: ServerResponse): void {
    this.#inflight.set(res, process.hrtime.bigint());
    res.on('close', this.#closed);
  }

  /** For the drain: responses not yet started tell their clients to take the next request elsewhere. */
  closeAfterResponse(): void {
    for (const res of this.#inflight.keys()) if (!res.headersSent) res.shouldKeepAlive = false;
  }

  #finish(res: ServerResponse): void {
    const started = this.#inflight.get(res);
    if (started === undefined) return;
    this.#inflight.delete(res);
    record(this.stats, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    if (this.accessLog) this.#accessLog(res.req, res, started);
    this.finished();
  }

  /** Written here, by the worker that served the request: the master stays off the request path. */
  #accessLog(req: IncomingMessage, res: ServerResponse, started: bigint): void {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    // JSON even under --log-format pretty; the worker id comes with the logger's base fields.
    this.#access ??= accessLogger(this.log);
    this.#access.info(
      { event: 'access', method: req.method, path: req.url, status: res.statusCode, ms: Math.round(ms * 1000) / 1000 },
      `${req.method} ${req.url} ${res.statusCode}`,
    );
  }
}
