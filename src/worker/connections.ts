import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { UpgradeListener } from './app-loader.js';

/**
 * The worker's open client connections, and the ones among them that left HTTP (upgraded:
 * WebSockets), so a drain knows when no request can arrive any more. Waiters are re-checked on
 * every change instead of polling.
 */
export class Connections {
  readonly #open = new Set<Duplex>();
  readonly #upgraded = new Set<Duplex>();
  readonly #waiters = new Set<() => void>();
  /**
   * Made once, not per connection: a closure for every connection showed up in close-mode
   * profiles (allocations, then GC). `this` is the socket; 'close' fires once.
   */
  readonly #closed: (this: Duplex) => void;

  constructor() {
    const open = this.#open;
    const changed = (): void => this.changed();
    this.#closed = function (this: Duplex) {
      open.delete(this);
      changed();
    };
  }

  get open(): number {
    return this.#open.size;
  }

  get upgraded(): number {
    return this.#upgraded.size;
  }

  /** Every TCP/unix connection, a TLS one from its first byte (its handshake is a request to finish too). */
  track(server: net.Server): void {
    server.on('connection', (socket: Duplex) => {
      this.#open.add(socket);
      socket.on('close', this.#closed);
    });
  }

  /** An upgraded socket (on TLS the TLSSocket over one of the tracked connections) is no longer HTTP. */
  markUpgraded(socket: Duplex): void {
    if (this.#upgraded.has(socket)) return;
    this.#upgraded.add(socket);
    socket.once('close', () => {
      this.#upgraded.delete(socket);
      this.changed();
    });
    this.changed();
  }

  /** Marks upgraded sockets without adding an 'upgrade' listener the app did not have (Node would then upgrade). */
  watchUpgrades(server: net.Server): void {
    const mark: UpgradeListener = (_req, socket) => this.markUpgraded(socket);
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

  /** Something a waiter may be waiting for happened: a connection or a request ended. */
  changed(): void {
    // Per finished request: nothing to iterate unless a drain waits.
    if (this.#waiters.size === 0) return;
    for (const waiter of this.#waiters) waiter();
  }

  /** Resolves true once done() holds, false at the deadline (ms since the epoch). */
  until(done: () => boolean, deadline: number): Promise<boolean> {
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

  /** Closes every upgraded connection (at the drain's deadline); returns how many there were. */
  destroyUpgraded(): number {
    const open = [...this.#upgraded];
    for (const socket of open) socket.destroy();
    return open.length;
  }
}
