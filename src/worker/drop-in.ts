import type net from 'node:net';
import type { Logger } from '../shared/log.js';
import { sameHandlers } from './app-server.js';
import type { HttpServers } from './http-servers.js';
import { type ListenCall, type ListenDecision, hookListen, reportAddress } from './listen-hook.js';

/**
 * Drop-in mode: apps that call listen() themselves run unchanged, as under PM2's cluster mode.
 *
 * The first listen() on a port or a path in a worker is "the app's listen()":
 * - if the module exports something prefork serves, prefork serves the export and that listen()
 *   is a logged no-op (its callback still runs, 'listening' is still emitted);
 * - otherwise prefork serves the server it was called on, on the master's sockets, whatever port
 *   or path it asked for.
 * Once served, the app's server follows Node's contract: after its close(), the next listen() (on
 * it or on a new server: json-server --watch makes one) serves again, in the same worker. A listen()
 * on a server with the app's own request handler (Fastify's "localhost" binds ::1 as well) is a
 * no-op: prefork's sockets already serve that handler. Any other listen() gets an error event (the
 * master binds nothing for a worker), unless it asks for `exclusive: true`: then the app binds that
 * socket itself, in this worker.
 *
 * A listen() made while the module loads is decided once it has loaded (is there an export?),
 * unless the module is still loading a turn of the event loop later: then it waits for its own
 * listen() (`await fastify.listen()` at the top level of an ES module), and is served at once.
 */
/** nothing: no listen() by the deadline; idle: none, and nothing left pending that could make one. */
export type Outcome = 'export' | 'redirected' | 'nothing' | 'idle';

/** Polls for an idle app this often, and calls it idle after this many idle polls in a row. */
const IDLE_POLL_MS = 100;
const IDLE_POLLS = 5;

export class DropIn {
  /** loading: the module is being evaluated; deciding: it has been, its export is being looked at. */
  #mode: 'loading' | 'deciding' | 'export' | 'waiting' | 'redirected' = 'loading';
  #appListen: ListenCall | null = null;
  #redirection: Promise<void> | null = null;
  #onAppListen: (() => void) | null = null;
  #address: net.AddressInfo | string | null = null;
  /** Rejects when serving the app's own server fails, even while the module is still loading. */
  readonly failed: Promise<never>;
  #fail: (err: unknown) => void = () => {};

  constructor(
    private readonly log: Logger,
    /** Where prefork serves, for log lines and error messages. */
    private readonly urls: readonly string[],
    /** Serves the app's server on the master's sockets. */
    private readonly serve: (call: ListenCall) => Promise<void>,
    /** What serves it, once serve() has begun. */
    private readonly servers: () => HttpServers | null,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.#fail = reject));
    this.failed.catch(() => {});
    hookListen((call) => this.#onListen(call));
  }

  #onListen(call: ListenCall): ListenDecision {
    if (call.exclusive) {
      this.log.info(
        { event: 'listen-exclusive', target: call.target },
        `the app binds ${call.target} itself (exclusive: true)`,
      );
      return 'pass';
    }
    if (this.#appListen !== null) {
      this.#later(call, this.#appListen.server);
      return 'taken';
    }
    this.#appListen = call;
    if (this.#mode === 'export') this.#ignore(call);
    else if (this.#mode === 'waiting') this.#onAppListen?.();
    else if (this.#mode === 'loading') {
      setImmediate(() => {
        if (this.#mode === 'loading') void this.#redirect();
      });
    }
    return 'taken';
  }

  #refuse(call: ListenCall): void {
    const message =
      `prefork: listen(${call.target}) refused: this worker already serves the app on ${this.urls.join(', ')}, ` +
      'and the master binds nothing for a worker; to open another socket in every worker, pass { port, exclusive: true } to listen(), or serve it with another --bind';
    this.log.warn({ event: 'listen-refused', target: call.target }, message);
    const err = Object.assign(new Error(message), { code: 'ERR_PREFORK_LISTEN' });
    process.nextTick(() => call.server.emit('error', err));
  }

  #ignore(call: ListenCall): void {
    this.log.info(
      { event: 'listen-ignored', target: call.target },
      `the app's listen(${call.target}) is a no-op: prefork serves its export on ${this.urls.join(', ')}`,
    );
    if (this.#address !== null) reportAddress(call.server, this.#address);
    process.nextTick(() => call.server.emit('listening'));
  }

  /** A listen() after the app's first one. Throws where Node's own listen() would. */
  #later(call: ListenCall, first: net.Server): void {
    const servers = this.#mode === 'redirected' ? this.servers() : null;
    const app = servers?.appServer ?? null;
    if (servers === null || app === null) {
      // Served as an export, its listen() a no-op: so is this one, on that server or one with its handler.
      const same = call.server === first || sameHandlers(call.server, first.listeners('request'));
      if (this.#mode === 'export' && same) this.#ignore(call);
      else if (call.server === first) throw alreadyListening();
      else this.#refuse(call);
      return;
    }
    // Closed by the app, or by prefork's drain: then it is not served again, whatever the app does on 'close'.
    if (servers.appClosed || servers.draining) this.#listenAgain(call, servers);
    else if (call.server === app) throw alreadyListening();
    else if (servers.servesTheApp(call.server)) this.#sameApp(call, app);
    else this.#refuse(call);
  }

  #listenAgain(call: ListenCall, servers: HttpServers): void {
    if (servers.draining) {
      this.log.info(
        { event: 'listen-ignored', target: call.target },
        `the app's listen(${call.target}) is a no-op: this worker is draining`,
      );
      return;
    }
    this.log.info(
      { event: 'listen-again', target: call.target },
      `the app's listen(${call.target}) after its close() is served on ${this.urls.join(', ')} again`,
    );
    servers.reopen(call.server);
  }

  #sameApp(call: ListenCall, app: net.Server): void {
    this.log.info(
      { event: 'listen-ignored', target: call.target },
      `the app's listen(${call.target}) is a no-op: its handler is served on ${this.urls.join(', ')} already`,
    );
    const address = app.address();
    if (address !== null) reportAddress(call.server, address);
    process.nextTick(() => call.server.emit('listening'));
  }

  #redirect(): Promise<void> {
    const call = this.#appListen!;
    this.#mode = 'redirected';
    this.#redirection ??= this.serve(call).then(
      () => {
        this.log.info(
          { event: 'listen-redirected', target: call.target, addresses: this.urls },
          `the app's listen(${call.target}) is served on ${this.urls.join(', ')} (drop-in mode)`,
        );
      },
      (err: unknown) => {
        this.#fail(err);
        throw err;
      },
    );
    return this.#redirection;
  }

  /** The module has been evaluated: a listen() it made waits for settle(). */
  moduleLoaded(): void {
    if (this.#mode === 'loading') this.#mode = 'deciding';
  }

  /**
   * The module has loaded. `address` is where prefork serves (for a no-op listen()'s address()).
   * Resolves with what is served: the export, the app's own server, or nothing by the deadline.
   */
  async settle(
    exportServable: boolean,
    address: net.AddressInfo | string | null,
    timeoutMs: number,
    /** Given how many timers prefork itself has pending: has the app nothing pending either? */
    idle: (ownTimers: number) => boolean = () => false,
  ): Promise<Outcome> {
    if (this.#redirection !== null) {
      await this.#redirection;
      if (exportServable)
        this.log.info({ event: 'export-unused' }, "the app's export is not served: its own listen() already serves it");
      return 'redirected';
    }
    if (exportServable) {
      this.#mode = 'export';
      this.#address = address;
      if (this.#appListen !== null) this.#ignore(this.#appListen);
      return 'export';
    }
    this.#mode = 'waiting';
    if (this.#appListen === null) {
      const called = await new Promise<Outcome | null>((resolve) => {
        const done = (outcome: Outcome | null): void => {
          clearTimeout(timer);
          clearInterval(poll);
          resolve(outcome);
        };
        const timer = setTimeout(() => done('nothing'), Math.max(0, timeoutMs));
        // Unref'd, so that it is not pending work itself; the deadline timer is the one prefork timer counted.
        let idlePolls = 0;
        const poll = setInterval(() => {
          idlePolls = idle(1) ? idlePolls + 1 : 0;
          if (idlePolls >= IDLE_POLLS) done('idle');
        }, IDLE_POLL_MS).unref();
        this.#onAppListen = () => done(null);
      });
      if (called !== null) return called;
    }
    await this.#redirect();
    return 'redirected';
  }
}

/** Node's own error for a second listen() without a close() in between. */
function alreadyListening(): Error {
  return Object.assign(new Error('Listen method has been called more than once without closing.'), {
    code: 'ERR_SERVER_ALREADY_LISTEN',
  });
}
