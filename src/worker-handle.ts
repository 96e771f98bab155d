import type { MasterMessage } from './messages.js';
import type { RawHandle } from './internals.js';

/**
 * The master's view of one worker process and the only place its state changes.
 *
 *   booting ──▶ ready ──▶ draining ──▶ exited
 *      │          │                      ▲
 *      └──────────┴──────────────────────┘  (boot failure, crash, kill)
 */
export type WorkerState = 'booting' | 'ready' | 'draining' | 'exited';

const LEGAL: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  booting: ['ready', 'draining', 'exited'],
  ready: ['draining', 'exited'],
  draining: ['exited'],
  exited: [],
};

export class IllegalTransition extends Error {}

/** What the handle needs of the real process; cluster.Worker provides it, tests fake it. */
export interface WorkerProcess {
  readonly pid: number | undefined;
  send(message: MasterMessage, handle?: RawHandle): void;
  kill(signal: NodeJS.Signals): void;
}

export interface Transition {
  worker: WorkerHandle;
  from: WorkerState;
  to: WorkerState;
  reason: string;
}

export class WorkerHandle {
  #state: WorkerState = 'booting';
  readonly startedAt = Date.now();
  readyAt: number | null = null;

  constructor(
    /** 0..N-1; a replacement takes over the slot (PREFORK_WORKER_ID) of the worker it replaces. */
    readonly slot: number,
    private readonly proc: WorkerProcess,
    private readonly onTransition: (t: Transition) => void,
  ) {}

  get state(): WorkerState {
    return this.#state;
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** The one mutator of state: rejects moves the diagram above does not allow. */
  transition(to: WorkerState, reason: string): void {
    const from = this.#state;
    if (!LEGAL[from].includes(to)) {
      throw new IllegalTransition(`worker ${this.slot} (pid ${this.pid}): illegal transition ${from} -> ${to} (${reason})`);
    }
    this.#state = to;
    if (to === 'ready') this.readyAt = Date.now();
    this.onTransition({ worker: this, from, to, reason });
  }

  send(message: MasterMessage, handle?: RawHandle): void {
    if (this.#state !== 'exited') this.proc.send(message, handle);
  }

  /** Ask the worker to stop accepting, finish its requests and exit. */
  drain(reason: string): void {
    if (this.#state === 'draining' || this.#state === 'exited') return;
    const wasBooting = this.#state === 'booting';
    this.transition('draining', reason);
    // A booting worker may be stuck loading the app and serves nobody yet: TERM is enough.
    if (wasBooting) this.proc.kill('SIGTERM');
    else this.send({ type: 'drain' });
  }

  kill(): void {
    if (this.#state !== 'exited') this.proc.kill('SIGKILL');
  }

  /** Uptime in ms, for the crash back-off. */
  uptime(now = Date.now()): number {
    return now - this.startedAt;
  }
}
