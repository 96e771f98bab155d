import type { Logger } from '../shared/log.js';
import type { RestartReason } from './pool-totals.js';
import type { ReplaceReason, WorkerHandle } from './worker-handle.js';

const CAUSE: Record<ReplaceReason, RestartReason> = {
  reload: 'reload',
  'max-requests': 'max_requests',
  'max-memory': 'max_memory',
};

export interface ReplacementHost {
  /** --reload-batch: how many successors may boot at once. */
  batch(): number;
  /** Whether `old` may get a successor now (the master runs and still wants its slot). */
  allowed(old: WorkerHandle): boolean;
  spawn(slot: number): WorkerHandle;
  log: Logger;
}

/**
 * Planned replacement, surge then drain: a successor boots in the slot beside the worker it
 * replaces, which drains only once the successor is ready, so capacity never dips. Queued
 * replacements (reload, max-memory) boot --reload-batch at a time; a worker close to its
 * --max-requests gets its successor at once, since it leaves anyway.
 */
export class Replacements {
  /** Workers waiting for room in the batch, in order. */
  readonly #queue = new Set<WorkerHandle>();
  /** Successors still booting. */
  readonly #booting = new Set<WorkerHandle>();

  constructor(private readonly host: ReplacementHost) {}

  /** Anything queued or booting. */
  get busy(): boolean {
    return this.#queue.size > 0 || this.#booting.size > 0;
  }

  /** Successors booting now (for tests and status). */
  get booting(): ReadonlySet<WorkerHandle> {
    return this.#booting;
  }

  queue(old: WorkerHandle, reason: ReplaceReason): void {
    if (old.state !== 'ready' || old.retiring !== null || old.successor !== null || !this.host.allowed(old)) return;
    old.retiring = reason;
    this.#queue.add(old);
    this.pump();
  }

  pump(): void {
    for (const old of this.#queue) {
      if (this.#booting.size >= this.host.batch()) return;
      const reason = old.retiring;
      this.#dequeue(old);
      if (old.state === 'ready' && reason !== null) this.start(old, reason);
    }
  }

  /** Forks the worker that will take over `old`'s slot; `old` drains once it is ready. */
  start(old: WorkerHandle, reason: ReplaceReason): void {
    if (old.successor !== null || !this.host.allowed(old)) return;
    this.#dequeue(old);
    const successor = this.host.spawn(old.slot);
    successor.replaces = { old, reason };
    old.successor = successor;
    this.#booting.add(successor);
  }

  /** A successor is ready: the worker it replaces drains. */
  promoted(successor: WorkerHandle): void {
    const link = successor.replaces;
    if (link === null) return;
    this.#unlink(successor);
    if (link.old.state === 'ready') link.old.exitCause = CAUSE[link.reason];
    link.old.drain(`replaced by pid ${successor.pid} (${link.reason})`);
    this.pump();
  }

  /**
   * A worker left. When it was a successor still booting, it failed: the worker it was to
   * replace keeps serving, and so do those queued for the same reason. Returns that reason.
   */
  exited(worker: WorkerHandle, why: string): ReplaceReason | null {
    this.#dequeue(worker);
    const link = worker.replaces;
    if (link === null) return null;
    this.#unlink(worker);
    let kept = 0;
    for (const old of this.#queue) {
      if (old.retiring !== link.reason) continue;
      this.#dequeue(old);
      kept += 1;
    }
    worker.log.error(
      { event: 'replace-failed', reason: link.reason, why },
      `a new worker failed to boot (${why}): ${link.reason} stopped, the current workers keep serving` +
        (kept > 0 ? ` (${kept} not replaced)` : ''),
    );
    this.pump();
    return link.reason;
  }

  /** Stops a successor that is no longer wanted (a newer reload, a scale-down); its old worker stays. */
  cancel(successor: WorkerHandle, why: string): void {
    this.#unlink(successor);
    successor.drain(why);
  }

  /** Successors booting for `reason` (a newer reload starts over). */
  inFlight(reason: ReplaceReason): WorkerHandle[] {
    return [...this.#booting].filter((s) => s.replaces?.reason === reason);
  }

  /** The master stops: nothing more is replaced (the booting successors drain with the rest). */
  clear(): void {
    for (const old of this.#queue) this.#dequeue(old);
    for (const s of this.#booting) this.#unlink(s);
  }

  #dequeue(old: WorkerHandle): void {
    this.#queue.delete(old);
    old.retiring = null;
  }

  #unlink(successor: WorkerHandle): void {
    this.#booting.delete(successor);
    const old = successor.replaces?.old;
    if (old?.successor === successor) old.successor = null;
    successor.replaces = null;
  }
}
