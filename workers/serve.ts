import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { type RawHandle, handleKind, listenOnHandle } from '../src/internals.js';
import { type Logger, accessLogger } from '../src/log.js';
import { type RequestStats, emptyStats, record } from '../src/stats.js';
import type { WorkerSettings } from '../src/messages.js';
import type { Servable } from './app-loader.js';

/**
 * The worker's HTTP side: one http.Server per handle from the master, all serving the same app,
 * and the drain that lets a worker leave without a client seeing a reset.
 */
/** What the worker wants to hear about from the request path. */
export interface ServingHooks {
  /** 3/4 of the way to --max-requests: time to fork the successor. */
  nearLimit(): void;
  /** --max-requests reached: stop accepting now. */
  atLimit(): void;
}

type Server = http.Server | https.Server;

/** What the client gets when Node's parser gives up on a request; anything else is a 400. */
const CLIENT_ERROR_REPLIES: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * Node checks headersTimeout and requestTimeout only when its connection sweep runs, every 30 s
 * by default, so a 10 s limit would really be 10 to 40 s. Sweeping at half the shortest limit
 * (at most every second) keeps each limit within 50% (or 1 s) of what the operator set.
 */
export function connectionsCheckingInterval(headersTimeoutMs: number, requestTimeoutMs: number): number {
  const limits = [headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0);
  if (limits.length === 0) return 30_000;
  return Math.max(10, Math.min(1000, Math.floor(Math.min(...limits) / 2)));
}

export class Serving {
  readonly #servers: Server[] = [];
  readonly #inflight = new Set<ServerResponse>();
  #drained: Promise<void> | null = null;
  #requests = 0;
  /** Cumulative; the master reads them from each heartbeat, so counting costs no IPC per request. */
  readonly stats: RequestStats = emptyStats();
  #access: Logger | null = null;

  constructor(
    private readonly app: Servable,
    private readonly settings: WorkerSettings,
    private readonly log: Logger,
    private readonly slot: number,
    private readonly hooks: ServingHooks,
  ) {}

  get draining(): boolean {
    return this.#drained !== null;
  }

  get requests(): number {
    return this.#requests;
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  async listen(handles: readonly RawHandle[]): Promise<void> {
    await Promise.all(handles.map((handle) => this.#listenOne(handle)));
  }

  /**
   * HTTPS on TCP handles when the master sent a certificate; unix sockets stay plain HTTP: they
   * are local, reached through a proxy on the same machine, where TLS only costs CPU.
   */
  #createServer(handle: RawHandle): Server {
    const { headersTimeoutMs, requestTimeoutMs, maxHeaderSize, tls } = this.settings;
    const options: http.ServerOptions = {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      maxHeaderSize,
      connectionsCheckingInterval: connectionsCheckingInterval(headersTimeoutMs, requestTimeoutMs),
    };
    if (tls === null || handleKind(handle) !== 'tcp') return http.createServer(options);
    // The HTTP limits start only after the handshake: a client stalling in it is held by
    // handshakeTimeout (Node's default 120 s), which takes the headers limit too.
    return https.createServer({ ...options, cert: tls.cert, key: tls.key, handshakeTimeout: headersTimeoutMs > 0 ? headersTimeoutMs : 120_000 });
  }

  #listenOne(handle: RawHandle): Promise<void> {
    const server = this.#createServer(handle);
    server.keepAliveTimeout = this.settings.keepAliveTimeout * 1000;
    server.on('request', this.#onRequest);
    if (this.app.upgrade) server.on('upgrade', this.app.upgrade);
    server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      // Only the HTTP parser's complaints get an HTTP answer. Resets, and TLS failures (a
      // handshake timeout, plain HTTP sent to the HTTPS port), end the connection: text written
      // to a TLS socket before its handshake would wait for one forever and pin the connection.
      // As Node itself does, answer only on a connection that has not sent anything yet: a
      // status line after (or inside) an earlier response would be read as garbage.
      const code = err.code ?? '';
      if (!(code.startsWith('HPE_') || code.startsWith('ERR_HTTP_')) || !socket.writable || socket.bytesWritten > 0) return socket.destroy();
      const status = CLIENT_ERROR_REPLIES[code] ?? '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    });
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        resolve();
      });
      listenOnHandle(server, handle, this.settings.backlog);
    });
  }

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const { limitConcurrency, maxRequests } = this.settings;
    if (limitConcurrency > 0 && this.#inflight.size >= limitConcurrency) {
      // Shed load at once: a queue here would only add latency the client cannot see coming.
      res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' }).end('Service Unavailable: too many requests in flight\n');
      record(this.stats, 503, 0);
      return;
    }
    this.#requests += 1;
    if (maxRequests > 0) {
      if (this.#requests === Math.max(1, Math.floor(maxRequests * 0.75))) this.hooks.nearLimit();
      if (this.#requests === maxRequests) this.hooks.atLimit();
    }
    this.#inflight.add(res);
    const started = process.hrtime.bigint();
    res.once('close', () => {
      this.#inflight.delete(res);
      record(this.stats, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
      if (this.settings.accessLog) this.#accessLog(req, res, started);
    });
    // Draining: this response tells the client to take its next request elsewhere.
    if (this.draining) res.shouldKeepAlive = false;
    try {
      this.app.request(req, res);
    } catch (err) {
      this.onAppError(err);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end('Internal Server Error\n');
      } else {
        res.destroy();
      }
    }
  };

  readonly onAppError = (err: unknown): void => {
    this.log.error({ event: 'app-error', err }, 'the app failed a request');
  };

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

  /**
   * Stops accepting and resolves once every connection has ended, or after the graceful timeout.
   * Only the listening side closes: http.Server#close() would also close idle keep-alive
   * connections, racing requests their clients are already sending. Each connection instead
   * gets `Connection: close` on its next response, and idle ones end at the keep-alive timeout.
   */
  drain(): Promise<void> {
    if (this.#drained !== null) return this.#drained;
    for (const res of this.#inflight) if (!res.headersSent) res.shouldKeepAlive = false;
    const allClosed = Promise.all(
      this.#servers.map((server) => new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()))),
    ).then(() => undefined);
    const deadline = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ event: 'drain-timeout', inflight: this.#inflight.size }, `graceful timeout: cutting ${this.#inflight.size} request(s)`);
        resolve();
      }, this.settings.gracefulTimeout * 1000);
      timer.unref();
    });
    this.#drained = Promise.race([allClosed, deadline]);
    return this.#drained;
  }
}
