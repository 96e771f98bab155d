import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { REPORT_STEP } from '../shared/balance.js';
import type { Logger } from '../shared/log.js';
import type { RequestStats } from '../shared/request-stats.js';

/** Requests seen on a connection, counted up to 2 (see report()). */
const REQUESTS_ON = Symbol('prefork.requestsOn');

/** Shedding stops accepting at most this long: connections that stay idle are no load to move. */
const MAX_PAUSE_MS = 1000;
/** After the last shed response, the client's reconnect has landed elsewhere well within this. */
const SETTLE_MS = 50;

export interface SheddingHooks {
  /** Done shedding connections: ask the master for the sockets again (see HttpServers#shed()). */
  resume(): void;
  /** The connection count moved REPORT_STEP since the last heartbeat: the master should hear it soon. */
  connectionsMoved(): void;
}

/**
 * The worker's side of src/shared/balance.ts: it counts the kept-alive connections the master balances
 * on, and when told to shed, closes that many of them after their next response.
 */
export class Shedding {
  #keptAlive = 0;
  /** What the last heartbeat said of #keptAlive. */
  #reported = 0;
  /** Connections still to close after their next response, while shedding. */
  #toShed = 0;
  /** Set while shedding: when to accept again at the latest, or (once done) after SETTLE_MS. */
  #resumeTimer: NodeJS.Timeout | null = null;
  /** Made once, not per connection (see Connections). */
  readonly #keptAliveClosed = (): void => this.#moved(-1);

  constructor(
    private readonly log: Logger,
    private readonly hooks: SheddingHooks,
    /** Where shed responses are counted. */
    private readonly stats: RequestStats,
    /** A draining worker asks for no sockets back. */
    private readonly draining: () => boolean,
  ) {}

  /** Shedding: the next responses close their connections. */
  get active(): boolean {
    return this.#toShed > 0;
  }

  /**
   * For a heartbeat: open connections that carried more than one request, the ones that stay with
   * a worker and so the ones balance.ts evens out (under `Connection: close` load there are none
   * to move). From now on, a move of REPORT_STEP asks for an early heartbeat.
   */
  report(): number {
    this.#reported = this.#keptAlive;
    return this.#reported;
  }

  /**
   * Per request, one property read: a connection counts as kept alive from its second request.
   * (A symbol property, not a WeakMap: a WeakMap entry per connection cost ~1 µs and more GC.)
   * A first request whose response closes the connection (`Connection: close`) marks nothing:
   * a property added to every socket showed in close-mode profiles.
   */
  countRequestOn(socket: Duplex & { [REQUESTS_ON]?: number }, keepAlive: boolean): void {
    const seen = socket[REQUESTS_ON];
    if (seen === undefined) {
      if (keepAlive) socket[REQUESTS_ON] = 1;
      return;
    }
    if (seen > 1) return;
    socket[REQUESTS_ON] = 2;
    this.#moved(1);
    socket.on('close', this.#keptAliveClosed);
  }

  #moved(by: number): void {
    this.#keptAlive += by;
    if (Math.abs(this.#keptAlive - this.#reported) >= REPORT_STEP) this.hooks.connectionsMoved();
  }

  /** The servers stopped accepting: close `count` connections after their next response. */
  start(count: number): void {
    this.#toShed = count;
    this.#resumeTimer = setTimeout(() => this.#resume(), MAX_PAUSE_MS);
    const kept = this.#keptAlive;
    this.log.debug({ event: 'shed', count, keptAlive: kept }, `shedding ${count} of ${kept} kept-alive connections`);
  }

  shedOne(res: ServerResponse): void {
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
    if (!this.draining()) this.hooks.resume();
  }
}
