import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawHandle, handOverConnection, listenOnHandle } from '../shared/internals.js';
import type { Logger } from '../shared/log.js';
import type { RequestStats } from '../shared/request-stats.js';
import type { WorkerSettings } from '../shared/messages.js';
import { timerMs } from '../shared/timers.js';
import type { AppListener, Servable } from './app-loader.js';
import { Connections } from './connections.js';
import { Requests } from './requests.js';
import {
  answerClientError,
  closeConnectionsAfterResponses,
  createServer,
  loadHttps,
  nodeHttp as http,
} from './server-options.js';
import { Shedding, type SheddingHooks } from './shedding.js';
import { onAppClose, ownHandleIndex, pipeAddress, sameHandlers } from './app-server.js';

/** What the worker wants to hear about from the request path. */
export interface ServingHooks extends SheddingHooks {
  /** 3/4 of the way to --max-requests: time to fork the successor. */
  nearLimit(): void;
  /** --max-requests reached: stop accepting now. */
  atLimit(): void;
}

const NOT_SERVING: Servable = {
  request: (_req, res) => void res.writeHead(503).end('Service Unavailable\n'),
  upgrade: null,
};

/**
 * The worker's HTTP side: one http.Server per handle from the master, all serving the same app
 * (or, in drop-in mode, the app's own server on them), and the drain that lets a worker leave
 * without a client seeing a reset. Counting is in Requests, connections in Connections, and the
 * balance's shedding in Shedding.
 */
export class HttpServers {
  readonly #servers: net.Server[] = [];
  readonly #connections = new Connections();
  readonly #requests: Requests;
  readonly #shedding: Shedding;
  #app: Servable;
  #drained: Promise<void> | null = null;
  /** Drop-in mode serves the app's own server: its listening state is the app's, never paused. */
  #ownServers = true;
  /** Drop-in mode: the app's server, at #servers[#ownIndex]; the others hand it their connections. */
  #adopted: net.Server | null = null;
  #ownIndex = 0;
  /** Its 'request' listeners as the app added them (ours replaced them). */
  #appListeners: readonly RequestListener[] = [];
  /** The app closed its server (not a drain): nothing is accepted until its next listen(). */
  #appClosed = false;

  constructor(
    app: Servable | null,
    private readonly settings: WorkerSettings,
    private readonly log: Logger,
    private readonly hooks: ServingHooks,
  ) {
    this.#app = app ?? NOT_SERVING;
    const { accessLog, requestDurations, countResponses } = settings;
    const finished = (): void => this.#connections.changed();
    this.#requests = new Requests(log, accessLog, requestDurations, finished, countResponses);
    this.#shedding = new Shedding(log, hooks, this.#requests.stats, () => this.draining);
  }

  get draining(): boolean {
    return this.#drained !== null;
  }

  get requests(): number {
    return this.#requests.served;
  }

  get inflight(): number {
    return this.#requests.inflight;
  }

  /** Cumulative request statistics, for the heartbeat. */
  get stats(): RequestStats {
    return this.#requests.stats;
  }

  /** Drop-in mode cannot shed: the listening server is the app's, and pausing it would tell the app it closed. */
  get canShed(): boolean {
    return this.#ownServers;
  }

  /** For a heartbeat: the kept-alive connections (see Shedding#report()). */
  reportKeptAlive(): number {
    return this.#shedding.report();
  }

  async listen(handles: readonly RawHandle[]): Promise<void> {
    await Promise.all(handles.map((handle, i) => this.#listenOne(handle, i)));
  }

  /** For a unix socket: what server.address() should report. */
  #pipeName(index: number): string | null {
    return pipeAddress(this.settings.urls[index]);
  }

  #listenOne(handle: RawHandle, index: number): Promise<void> {
    const server = createServer(this.settings, handle);
    // Node arms the idle socket's timer at keepAliveTimeout + 1 s: that too must fit a timer.
    server.keepAliveTimeout = timerMs(this.settings.keepAliveTimeout, 1000) - 1000;
    server.on('request', this.#onRequest);
    const { upgrade } = this.#app;
    if (upgrade) {
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        this.#connections.markUpgraded(socket);
        upgrade(req, socket, head);
      });
    }
    this.#connections.track(server);
    server.on('clientError', answerClientError);
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
   * handles. It listens on one itself (see ownHandleIndex()), so address(), close() and its
   * 'listening' callback behave as the app expects; the other handles hand their connections to it.
   * Its request listeners move behind ours, so limits, counting, the access log and the drain apply.
   */
  async adopt(server: net.Server, handles: readonly RawHandle[], wantsPipe: boolean): Promise<void> {
    this.#ownServers = false;
    this.#take(server);
    this.#ownIndex = ownHandleIndex(handles, wantsPipe);
    // Index for index with the handles: the master sends a handle again by its index (relisten()).
    for (let i = 0; i < handles.length; i += 1) this.#servers.push(i === this.#ownIndex ? server : this.#forward());
    await Promise.all(handles.map((handle, i) => this.#accept(this.#servers[i]!, handle, i)));
  }

  /** Hands each connection to the app's server, which counts it as its own (for its close()). */
  #forward(): net.Server {
    const forward = net.createServer((socket) => {
      const app = this.#adopted!;
      handOverConnection(socket, forward, app);
      app.emit('connection', socket);
    });
    return forward;
  }

  #take(server: net.Server): void {
    if (server instanceof http.Server || server instanceof loadHttps().Server) {
      const listeners = server.listeners('request') as RequestListener[];
      server.removeAllListeners('request');
      this.#appListeners = listeners;
      // A connection still open on a server the app closed gets the current server's listeners.
      this.#app = { request: (req, res) => adoptedRequest(server, listeners, req, res), upgrade: null };
      server.on('request', this.#onRequest);
      this.#connections.watchUpgrades(server);
    }
    this.#connections.track(server);
    onAppClose(server, this.#onAppClose);
    this.#adopted = server;
  }

  /** The app closes its server (json-server --watch does, to listen again): the other sockets stop too. */
  readonly #onAppClose = (server: net.Server): void => {
    if (server !== this.#adopted || this.#appClosed || this.draining) return;
    this.#appClosed = true;
    for (const s of this.#servers) if (s !== server && s.listening) net.Server.prototype.close.call(s);
    this.log.info(
      { event: 'listen-closed' },
      "the app closed its server: this worker accepts nothing until the app's next listen()",
    );
  };

  /** Drop-in mode: the server the app listens on (null before, or when it serves an export). */
  get appServer(): net.Server | null {
    return this.#adopted;
  }

  /** The app closed its server and has not called listen() again since. */
  get appClosed(): boolean {
    return this.#appClosed;
  }

  /** A server with the app's own request handler: the same app on another address (Fastify's "localhost"). */
  servesTheApp(server: net.Server): boolean {
    return sameHandlers(server, this.#appListeners);
  }

  /**
   * The app listens again after closing its server (the same one, or a new one it made): it is
   * served on the master's sockets again, which the master sends again ('resume', as after
   * shedding). Until they arrive, connections wait in the kernel's queue of the master's copy.
   */
  reopen(server: net.Server): void {
    if (server !== this.#adopted) {
      this.#take(server);
      this.#servers[this.#ownIndex] = server;
    }
    this.#appClosed = false;
    this.hooks.resume();
  }

  /** No request can arrive any more: every connection has closed or is an upgraded one. */
  #noMoreRequests(): boolean {
    return this.#requests.inflight === 0 && this.#connections.open <= this.#connections.upgraded;
  }

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const { limitConcurrency, maxRequests } = this.settings;
    if (this.#requests.full(limitConcurrency)) return this.#requests.refuse(res);
    const served = this.#requests.take();
    this.#shedding.countRequestOn(req.socket, res.shouldKeepAlive);
    if (maxRequests > 0) {
      if (served === Math.max(1, Math.floor(maxRequests * 0.75))) this.hooks.nearLimit();
      if (served === maxRequests) this.hooks.atLimit();
    }
    this.#requests.track(res);
    // Draining, every response closes its connection already (drain()).
    if (this.#shedding.active && !this.draining) this.#shedding.shedOne(res);
    let result: unknown;
    try {
      result = this.#app.request(req, res);
    } catch (err) {
      this.#failed(err, res);
      return;
    }
    // Only a thenable costs anything more: an async listener's rejection answers 500 as a throw does.
    if (isThenable(result)) result.then(undefined, (err: unknown) => this.#failed(err, res));
  };

  /** The app threw or rejected on this request: 500 if nothing was sent yet, else cut the response short. */
  #failed(err: unknown, res: ServerResponse): void {
    this.onAppError(err);
    if (!res.headersSent) {
      res.statusCode = 500;
      res.end('Internal Server Error\n');
    } else {
      res.destroy();
    }
  }

  readonly onAppError = (err: unknown): void => {
    this.log.error({ event: 'app-error', err }, 'the app failed a request');
  };

  /**
   * The master saw this worker hold far more than its share of the pool's connections: stop
   * accepting (close our copies of the sockets; the master keeps them open, so the kernel queues
   * or hands connects to the other workers) and close `count` connections after their next
   * response, as a drain does. Their clients reconnect, to another worker. Then accept again.
   */
  shed(count: number): void {
    if (this.draining || !this.#ownServers || this.#paused || count <= 0) return;
    for (const server of this.#servers) net.Server.prototype.close.call(server);
    this.#shedding.start(count);
  }

  /** Not accepting on one of our sockets, from shed() until the master's copy of it arrives. */
  get #paused(): boolean {
    return this.#servers.some((s) => !s.listening);
  }

  /** A socket the master sent again after shed() or reopen(): accept on it once more. */
  relisten(index: number, handle: RawHandle): Promise<void> {
    const server = this.#servers[index];
    if (server === undefined || server.listening || this.draining || this.#appClosed) {
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
    closeConnectionsAfterResponses();
    // Closing a closed server would emit 'close' again: the app may have closed its own.
    for (const server of this.#servers) if (server.listening) net.Server.prototype.close.call(server);
    this.#drained = this.#connections
      .until(() => this.#noMoreRequests(), deadline)
      .then((done) => {
        if (done) return;
        const connections = this.#connections.open - this.#connections.upgraded;
        // Requests in flight are known only when counted (WorkerSettings.countResponses).
        const inflight = this.settings.countResponses ? this.#requests.inflight : undefined;
        const requests = inflight === undefined ? '' : `${inflight} request(s) on `;
        const line = `graceful timeout: cutting ${requests}${connections} connection(s)`;
        this.log.warn({ event: 'drain-timeout', connections, inflight }, line);
      });
    return this.#drained;
  }

  /**
   * Upgraded connections (WebSockets) are the app's: prefork cannot ask them to go away. They
   * stay open until they close or the deadline passes; then they are closed.
   */
  async closeUpgraded(deadline: number): Promise<void> {
    if (await this.#connections.until(() => this.#connections.upgraded === 0, deadline)) return;
    const open = this.#connections.upgraded;
    this.log.warn(
      { event: 'drain-timeout', upgraded: open },
      `graceful timeout: closing ${open} upgraded connection(s) (WebSockets)`,
    );
    this.#connections.destroyUpgraded();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * A drop-in server's own 'request' listeners, in order. Returns the first thenable one of them
 * returned, so an async listener that rejects is answered 500 like a direct app's.
 */
function adoptedRequest(
  server: net.Server,
  listeners: readonly RequestListener[],
  req: IncomingMessage,
  res: ServerResponse,
): unknown {
  let pending: unknown;
  for (const l of listeners) {
    const result: unknown = (l as AppListener).call(server, req, res);
    if (pending === undefined && isThenable(result)) pending = result;
  }
  return pending;
}
