import { type BindSpec, type PerWorkerBind, addressKey, expandBind, formatBind } from '../config/bind.js';
import { bindError } from '../shared/exit-codes.js';
import type { Listener } from './listeners.js';
import type { Logger } from '../shared/log.js';

/** One entry of the workers' bind list, in bind order: a socket every worker shares, or one per worker. */
export type BindSlot = { shared: Listener } | { perWorker: PerWorkerBind };

export interface SlotSocketsDeps {
  layout: readonly BindSlot[];
  /**
   * Binds addresses as any bind is (openListeners: stale-socket probe, mode, owner), checking
   * them against `bound`; on failure it releases what it opened and throws.
   */
  open: (binds: BindSpec[], bound: readonly Listener[]) => Promise<Listener[]>;
  /** Closes sockets for good and removes their files if still ours (stopListening's rules). */
  close: (listeners: readonly Listener[]) => void;
  log: Logger;
  /** Where relative socket paths resolve, to tell two binds of one address apart. */
  cwd: string;
}

/**
 * The per-worker sockets (`{worker}` binds): slot i's are bound once, when slot i is first
 * needed, held by the master across every worker that serves the slot (so a client connecting
 * between two of them waits in the backlog), handed only to slot i's workers beside the shared
 * sockets, and closed when the slot leaves the pool or the master stops.
 */
export class SlotSockets {
  readonly #slots = new Map<number, Listener[]>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** After start-up each newly bound slot says where it listens (start-up logs them all at once). */
  #announce = false;

  constructor(private readonly deps: SlotSocketsDeps) {}

  get #templates(): PerWorkerBind[] {
    return this.deps.layout.flatMap((e) => ('perWorker' in e ? [e.perWorker] : []));
  }

  /** The sockets every worker gets. */
  get shared(): Listener[] {
    return this.deps.layout.flatMap((e) => ('shared' in e ? [e.shared] : []));
  }

  /** The sockets slot `slot`'s worker is given, in bind order: the shared ones and its own. */
  handles(slot: number): Listener[] {
    const own = [...(this.#slots.get(slot) ?? [])];
    return this.deps.layout.flatMap((e) => ('shared' in e ? [e.shared] : own.splice(0, 1)));
  }

  /** The slot's own sockets (none without a per-worker bind, or before it is bound). */
  own(slot: number): readonly Listener[] {
    return this.#slots.get(slot) ?? [];
  }

  /** Every per-worker socket held now, by slot. */
  all(): Listener[] {
    return this.boundSlots().flatMap((slot) => this.#slots.get(slot)!);
  }

  /** The slots whose sockets are bound, lowest first. */
  boundSlots(): number[] {
    return [...this.#slots.keys()].sort((a, b) => a - b);
  }

  /** The per-worker binds as configured, for status: unix:/run/app/web-{worker}.sock. */
  templates(): string[] {
    return this.#templates.map((t) => formatBind(t));
  }

  /** How many slots from 0 up have their sockets (all of them without a per-worker bind). */
  get covered(): number {
    if (this.#templates.length === 0) return Number.POSITIVE_INFINITY;
    let n = 0;
    while (this.#slots.has(n)) n += 1;
    return n;
  }

  /**
   * Binds the sockets of every slot below `count` that has none yet, one slot after another and
   * one call at a time. The first failure rejects; slots bound before it stay.
   */
  bindUpTo(count: number): Promise<void> {
    const run = this.#queue.then(async () => {
      for (let slot = 0; slot < count && this.#templates.length > 0; slot += 1) {
        if (this.#closed) return;
        if (!this.#slots.has(slot)) await this.#bind(slot);
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async #bind(slot: number): Promise<void> {
    const binds = this.#templates.map((t) => expandBind(t, slot));
    this.#refuseTaken(slot, binds);
    const opened = await this.deps.open(binds, [...this.shared, ...this.all()]);
    if (this.#closed) {
      this.deps.close(opened);
      return;
    }
    this.#slots.set(slot, opened);
    if (this.#announce) this.logListening(slot);
  }

  /** An address a shared bind or another slot has (a TTIN beyond what the start checked): refused, exit 3. */
  #refuseTaken(slot: number, binds: readonly BindSpec[]): void {
    const taken = new Map<string, string>();
    for (const l of [...this.shared, ...this.all()]) {
      const key = addressKey(l.bind, this.deps.cwd);
      if (key !== null) taken.set(key, l.url);
    }
    for (const bind of binds) {
      const other = taken.get(addressKey(bind, this.deps.cwd) ?? '');
      if (other !== undefined)
        throw bindError(`cannot bind ${formatBind(bind)} for worker ${slot}: it is the same address as ${other}`);
    }
  }

  /** The 'listening' line of each of the slot's sockets. */
  logListening(slot: number, parent?: number): void {
    for (const l of this.own(slot)) {
      const from = l.inherited === true && parent !== undefined ? ` (from master ${parent})` : '';
      this.deps.log.info(
        { event: 'listening', address: l.url, worker: slot, inherited: l.inherited },
        `listening on ${l.url} (worker ${slot}'s own)${from}`,
      );
    }
  }

  /** Start-up is logged: from now on a slot bound later logs its own lines. */
  announceLater(): void {
    this.#announce = true;
  }

  /**
   * Closes the sockets of the slots from `keep` up that no worker uses any more (scaled down,
   * its last worker gone), and removes their files.
   */
  release(keep: number, inUse: (slot: number) => boolean): void {
    for (const [slot, listeners] of this.#slots) {
      if (slot < keep || inUse(slot)) continue;
      this.#slots.delete(slot);
      this.deps.close(listeners);
      for (const l of listeners) {
        this.deps.log.info(
          { event: 'socket-closed', address: l.url, worker: slot },
          `closed ${l.url}: worker ${slot} is no longer in the pool`,
        );
      }
    }
  }

  /** A stop's drain: close every per-worker socket (see stopListening); nothing is bound any more. */
  closeAll(): void {
    this.#closed = true;
    this.deps.close(this.all());
  }
}
