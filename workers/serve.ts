import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawHandle, handleKind, listenOnHandle } from '../src/internals.js';
import { type Logger, accessLogger } from '../src/log.js';
import { type RequestStats, emptyStats, record } from '../src/stats.js';
import { REPORT_STEP } from '../src/balance.js';
import type { WorkerSettings } from '../src/messages.js';
import { timerMs } from '../src/timers.js';
import type { Servable, UpgradeListener } from './app-loader.js';

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
  /** Done shedding connections: ask the master for the sockets again (see shed()). */
  resume(): void;
  /** The connection count moved REPORT_STEP since the last heartbeat: the master should hear it soon. */
  connectionsMoved(): void;
}

type Server = http.Server | https.Server;

/** node:https (and with it tls and crypto, ~5 ms and 1.5 MB) loads only for a worker that serves HTTPS or an app's own HTTPS server. */
const loadHttps = (): typeof https => process.getBuiltinModule('node:https');

const NOT_SERVING: Servable = {
  request: (_req, res) => void res.writeHead(503).end('Service Unavailable\n'),
  upgrade: null,
};

/** What the client gets when Node's parser gives up on a request; anything else is a 400. */
const CLIENT_ERROR_REPLIES: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/** Requests seen on a connection, counted up to 2 (see reportKeptAlive()). */
const REQUESTS_ON = Symbol('prefork.requestsOn');

/** Shedding stops accepting at most this long: connections that stay idle are no load to move. */
const MAX_PAUSE_MS = 1000;
/** After the last shed response, the client's reconnect has landed elsewhere well within this. */
const SETTLE_MS = 50;

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
  readonly #servers: net.Server[] = [];
  /** Requests being served, with when each started (process.hrtime.bigint()). */
  readonly #inflight = new Map<ServerResponse, bigint>();
  /** Every open client connection, and the sockets that left HTTP (WebSockets). */
  readonly #connections = new Set<Duplex>();
  readonly #upgraded = new Set<Duplex>();
  readonly #waiters = new Set<() => void>();
  #app: Servable;
  #drained: Promise<void> | null = null;
  #requests = 0;
  /** Cumulative; the master reads them from each heartbeat, so counting costs no IPC per request. */
  readonly stats: RequestStats = emptyStats();
  #access: Logger | null = null;
  #keptAlive = 0;
  /** What the last heartbeat said of #keptAlive. */
  #reported = 0;
  /** Connections still to close after their next response, while shedding (balance.ts). */
  #toShed = 0;
  /** Set while shedding: when to accept again at the latest, or (once done) after SETTLE_MS. */
  #resumeTimer: NodeJS.Timeout | null = null;
  /** Drop-in mode serves the app's own server: its listening state is the app's, never paused. */
  #ownServers = true;

  /**
   * Per-connection and per-request 'close' listeners, made once: a closure and a once() wrapper
   * for every request showed up in close-mode profiles (allocations, then GC). `this` is the
   * emitter; 'close' fires once.
   */
  readonly #connectionClosed: (this: Duplex) => void;
  readonly #responseClosed: (this: ServerResponse) => void;
  readonly #keptAliveClosed: () => void;

  constructor(
    app: Servable | null,
    private readonly settings: WorkerSettings,
    private readonly log: Logger,
    private readonly slot: number,
    private readonly hooks: ServingHooks,
  ) {
    this.#app = app ?? NOT_SERVING;
    const serving = this;
    this.#connectionClosed = function (this: Duplex) {
      serving.#connections.delete(this);
      serving.#changed();
    };
    this.#responseClosed = function (this: ServerResponse) {
      serving.#finished(this);
    };
    this.#keptAliveClosed = () => this.#keptAliveMoved(-1);
  }

  get draining(): boolean {
    return this.#drained !== null;
  }

  get requests(): number {
    return this.#requests;
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  /** Drop-in mode cannot shed: the listening server is the app's, and pausing it would tell the app it closed. */
  get canShed(): boolean {
    return this.#ownServers;
  }

  /**
   * For a heartbeat: open connections that carried more than one request, the ones that stay with
   * a worker and so the ones balance.ts evens out (under `Connection: close` load there are none
   * to move). From now on, a move of REPORT_STEP asks for an early heartbeat.
   */
  reportKeptAlive(): number {
    this.#reported = this.#keptAlive;
    return this.#reported;
  }

  /**
   * Per request, one property read: a connection counts as kept alive from its second request.
   * (A symbol property, not a WeakMap: a WeakMap entry per connection cost ~1 µs and more GC.)
   */
  #countRequestOn(socket: Duplex & { [REQUESTS_ON]?: number }): void {
    const seen = socket[REQUESTS_ON];
    if (seen === undefined) {
      socket[REQUESTS_ON] = 1;
      return;
    }
    if (seen > 1) return;
    socket[REQUESTS_ON] = 2;
    this.#keptAliveMoved(1);
    socket.on('close', this.#keptAliveClosed);
  }

  #keptAliveMoved(by: number): void {
    this.#keptAlive += by;
    if (Math.abs(this.#keptAlive - this.#reported) >= REPORT_STEP) this.hooks.connectionsMoved();
  }

  async listen(handles: readonly RawHandle[]): Promise<void> {
    await Promise.all(handles.map((handle, i) => this.#listenOne(handle, i)));
  }

  /** For a unix socket: its path (or @name), as server.address() should report it. */
  #pipeName(index: number): string | null {
    const url = this.settings.urls[index] ?? '';
    return url.startsWith('unix:') ? url.slice('unix:'.length) : null;
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
    return loadHttps().createServer({ ...options, cert: tls.cert, key: tls.key, handshakeTimeout: headersTimeoutMs > 0 ? headersTimeoutMs : 120_000 });
  }

  #listenOne(handle: RawHandle, index: number): Promise<void> {
    const server = this.#createServer(handle);
    // Node arms the idle socket's timer at keepAliveTimeout + 1 s: that too must fit a timer.
    server.keepAliveTimeout = timerMs(this.settings.keepAliveTimeout, 1000) - 1000;
    server.on('request', this.#onRequest);
    const { upgrade } = this.#app;
    if (upgrade) {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        this.#markUpgraded(socket);
        upgrade(req, socket, head);
      });
    }
    this.#track(server);
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
    return this.#listenOn(server, handle, index);
  }

  #listenOn(server: net.Server, handle: RawHandle, index: number): Promise<void> {
    this.#servers.push(server);
    return this.#accept(server, handle, index);
  }

  #accept(server: net.Server, handle: RawHandle, index: number): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        resolve();
      });
      listenOnHandle(server, handle, this.settings.backlog, this.#pipeName(index));
    });
  }

  /**
   * Drop-in mode: serve the app's own server (the one it called listen() on) on the master's
   * handles. It listens on the first itself, so address(), close() and its 'listening' callback
   * behave as the app expects; the other handles hand their connections to it. Its request
   * listeners move behind ours, so limits, counting, the access log and the drain apply.
   */
  async adopt(server: net.Server, handles: readonly RawHandle[]): Promise<void> {
    if (server instanceof http.Server || server instanceof loadHttps().Server) {
      const listeners = server.listeners('request') as RequestListener[];
      server.removeAllListeners('request');
      this.#app = { request: (req, res) => listeners.forEach((l) => l.call(server, req, res)), upgrade: null };
      server.on('request', this.#onRequest);
      this.#watchUpgrades(server);
    }
    this.#track(server);
    this.#ownServers = false;
    const [first, ...rest] = handles;
    if (first === undefined) return;
    await this.#listenOn(server, first, 0);
    await Promise.all(
      rest.map((handle, i) => {
        const forward = net.createServer((socket) => server.emit('connection', socket));
        return this.#listenOn(forward, handle, i + 1);
      }),
    );
  }

  /** Marks upgraded sockets without adding an 'upgrade' listener the app did not have (Node would then upgrade). */
  #watchUpgrades(server: net.Server): void {
    const mark: UpgradeListener = (_req, socket) => this.#markUpgraded(socket);
    let marking = false;
    const ensure = (): void => {
      if (marking) return;
      marking = true;
      server.prependListener('upgrade', mark);
    };
    if (server.listenerCount('upgrade') > 0) ensure();
    server.on('newListener', (event: string | symbol) => {
      if (event === 'upgrade') ensure();
    });
  }

  /** Every TCP/unix connection, a TLS one from its first byte (its handshake is a request to finish too). */
  #track(server: net.Server): void {
    server.on('connection', (socket: Duplex) => {
      this.#connections.add(socket);
      socket.on('close', this.#connectionClosed);
    });
  }

  /** An upgraded socket (on TLS the TLSSocket over one of the tracked connections) is no longer HTTP. */
  #markUpgraded(socket: Duplex): void {
    if (this.#upgraded.has(socket)) return;
    this.#upgraded.add(socket);
    socket.once('close', () => {
      this.#upgraded.delete(socket);
      this.#changed();
    });
    this.#changed();
  }

  /** No request can arrive any more: every connection has closed or is an upgraded one. */
  #noMoreRequests(): boolean {
    return this.#inflight.size === 0 && this.#connections.size <= this.#upgraded.size;
  }

  #changed(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Resolves true once done() holds, false at the deadline (ms since the epoch). */
  #until(done: () => boolean, deadline: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(result);
      };
      const check = (): void => {
        if (done()) finish(true);
      };
      const timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
      this.#waiters.add(check);
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
    this.#countRequestOn(req.socket);
    if (maxRequests > 0) {
      if (this.#requests === Math.max(1, Math.floor(maxRequests * 0.75))) this.hooks.nearLimit();
      if (this.#requests === maxRequests) this.hooks.atLimit();
    }
    this.#inflight.set(res, process.hrtime.bigint());
    res.on('close', this.#responseClosed);
    // Draining: this response tells the client to take its next request elsewhere.
    if (this.draining) res.shouldKeepAlive = false;
    else if (this.#toShed > 0) this.#shedOne(res);
    try {
      this.#app.request(req, res);
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

  #finished(res: ServerResponse): void {
    const started = this.#inflight.get(res);
    if (started === undefined) return;
    this.#inflight.delete(res);
    record(this.stats, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    if (this.settings.accessLog) this.#accessLog(res.req, res, started);
    this.#changed();
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

  /**
   * The master saw this worker hold far more than its share of the pool's connections: stop
   * accepting (close our copies of the sockets; the master keeps them open, so the kernel queues
   * or hands connects to the other workers) and close `count` connections after their next
   * response, as a drain does. Their clients reconnect, to another worker. Then accept again.
   */
  shed(count: number): void {
    if (this.draining || !this.#ownServers || this.#paused || count <= 0) return;
    this.#toShed = count;
    for (const server of this.#servers) net.Server.prototype.close.call(server);
    this.#resumeTimer = setTimeout(() => this.#resume(), MAX_PAUSE_MS);
    this.log.debug({ event: 'shed', count, keptAlive: this.#keptAlive }, `shedding ${count} of ${this.#keptAlive} kept-alive connections`);
  }

  /** Not accepting on one of our sockets, from shed() until the master's copy of it arrives. */
  get #paused(): boolean {
    return this.#servers.some((s) => !s.listening);
  }

  #shedOne(res: ServerResponse): void {
    res.shouldKeepAlive = false;
    this.stats.shed += 1;
    this.#toShed -= 1;
    if (this.#toShed > 0) return;
    if (this.#resumeTimer !== null) clearTimeout(this.#resumeTimer);
    this.#resumeTimer = setTimeout(() => this.#resume(), SETTLE_MS);
  }

  #resume(): void {
    this.#toShed = 0;
    if (this.#resumeTimer !== null) clearTimeout(this.#resumeTimer);
    this.#resumeTimer = null;
    if (!this.draining) this.hooks.resume();
  }

  /** A socket the master sent again after shed(): accept on it once more. */
  relisten(index: number, handle: RawHandle): Promise<void> {
    const server = this.#servers[index];
    if (server === undefined || server.listening || this.draining) {
      handle.close();
      return Promise.resolve();
    }
    return this.#accept(server, handle, index);
  }

  /**
   * Stops accepting and resolves once no request can arrive any more: every connection has ended
   * or left HTTP (an upgraded WebSocket), or the deadline passed. Only the listening side closes:
   * http.Server#close() would also close idle keep-alive connections, racing requests their
   * clients are already sending. Each connection instead gets `Connection: close` on its next
   * response, and idle ones end at the keep-alive timeout.
   */
  drain(deadline: number): Promise<void> {
    if (this.#drained !== null) return this.#drained;
    for (const res of this.#inflight.keys()) if (!res.headersSent) res.shouldKeepAlive = false;
    for (const server of this.#servers) net.Server.prototype.close.call(server);
    this.#drained = this.#until(() => this.#noMoreRequests(), deadline).then((done) => {
      if (done) return;
      const cut = this.#inflight.size;
      this.log.warn({ event: 'drain-timeout', inflight: cut }, `graceful timeout: cutting ${cut} request(s)`);
    });
    return this.#drained;
  }

  /**
   * Upgraded connections (WebSockets) are the app's: prefork cannot ask them to go away. They
   * stay open until they close or the deadline passes; then they are closed.
   */
  async closeUpgraded(deadline: number): Promise<void> {
    if (await this.#until(() => this.#upgraded.size === 0, deadline)) return;
    const open = [...this.#upgraded];
    this.log.warn({ event: 'drain-timeout', upgraded: open.length }, `graceful timeout: closing ${open.length} upgraded connection(s) (WebSockets)`);
    for (const socket of open) socket.destroy();
  }
}
