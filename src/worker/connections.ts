import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { openConnections } from '../shared/internals.js';
import type { UpgradeListener } from './app-loader.js';

/** How often a waiting drain looks at the connection counts, between the events it hears. */
const POLL_MS = 10;

/**
 * The worker's open client connections, and the ones among them that left HTTP (upgraded:
 * WebSockets), so a drain knows when no request can arrive any more. Open connections are the
 * servers' own counts: a listener and a Set entry for every connection showed in close-mode
 * profiles (allocations, then GC), for a figure only a drain reads. Waiters are re-checked when
 * a request or an upgraded connection ends, and every POLL_MS while any waits.
 */
export class Connections {
  readonly #servers = new Set<net.Server>();
  readonly #upgraded = new Set<Duplex>();
  readonly #waiters = new Set<() => void>();
  #poll: NodeJS.Timeout | null = null;

  get open(): number {
    let open = 0;
    for (const server of this.#servers) open += openConnections(server);
    return open;
  }

  get upgraded(): number {
    return this.#upgraded.size;
  }

  /** Every TCP/unix connection it accepts (or is handed), a TLS one from its first byte. */
  track(server: net.Server): void {
    this.#servers.add(server);
  }

  /** An upgraded socket (on TLS the TLSSocket over one of the counted connections) is no longer HTTP. */
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

  /** Something a waiter may be waiting for happened: a request or an upgraded connection ended. */
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
        if (this.#waiters.size === 0 && this.#poll !== null) {
          clearInterval(this.#poll);
          this.#poll = null;
        }
        resolve(result);
      };
      const check = (): void => {
        if (done()) finish(true);
      };
      const timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
      this.#waiters.add(check);
      this.#poll ??= setInterval(() => this.changed(), POLL_MS);
    });
  }

  /** Closes every upgraded connection (at the drain's deadline); returns how many there were. */
  destroyUpgraded(): number {
    const open = [...this.#upgraded];
    for (const socket of open) socket.destroy();
    return open.length;
  }
}
