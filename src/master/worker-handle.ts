import type { MasterMessage, WorkerMessage } from '../shared/messages.js';
import type { RawHandle } from '../shared/internals.js';
import type { Logger } from '../shared/log.js';
import type { RestartReason } from './pool-totals.js';

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

/** What the master hears from a worker process. */
export interface WorkerEvents {
  message(message: WorkerMessage): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  /** The handle's logger (WorkerHandle#log), for what the spawner sees of the process. */
  readonly log: Logger;
}

/** Starts a worker process for a slot (fork.ts: cluster.fork; unit tests: fakes). */
export type Spawn = (slot: number, events: WorkerEvents) => WorkerProcess;

/** Why a worker is replaced (surge, then drain); logged, and a restart reason in the metrics. */
export type ReplaceReason = 'reload' | 'max-requests' | 'max-memory';

export interface Transition {
  worker: WorkerHandle;
  from: WorkerState;
  to: WorkerState;
  reason: string;
}

/** The fields a worker's child logger binds; tools/log-events.ts lists them for lines logged through it. */
export function workerLogBindings(slot: number, pid: number): { worker: number; workerPid: number } {
  return { worker: slot, workerPid: pid };
}

export class WorkerHandle {
  #state: WorkerState = 'booting';
  readonly startedAt = Date.now();
  readyAt: number | null = null;
  // The master's facts about this worker; only the master (and replacement.ts) set them.
  /** The reload generation whose configuration it runs. */
  generation = 0;
  /** Why it could not boot: its own words, or the --boot-timeout. */
  bootFailure: string | null = null;
  /** Why the master killed it (hung, drain overran), for the exit line. */
  killReason: string | null = null;
  /** Why it is on its way out, for restart counts by reason; null at exit means a crash. */
  exitCause: RestartReason | null = null;
  /** A successor still booting: the worker it takes over from once ready, and why. */
  replaces: { old: WorkerHandle; reason: ReplaceReason } | null = null;
  /** The worker booting to take over from this one. */
  successor: WorkerHandle | null = null;
  /** Waiting for room in the --reload-batch to be replaced, and why. */
  retiring: ReplaceReason | null = null;
  /**
   * The master's lines about this worker go through this child: `worker` (slot) and `workerPid`
   * are bound once, so no line repeats them or writes a second `pid` beside the master's own.
   */
  readonly log: Logger;

  constructor(
    /** 0..N-1; a replacement takes over the slot (PREFORK_WORKER_ID) of the worker it replaces. */
    readonly slot: number,
    private readonly proc: WorkerProcess,
    private readonly onTransition: (t: Transition) => void,
    log: Logger,
  ) {
    this.log = log.child(workerLogBindings(slot, this.pid));
  }

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
      throw new IllegalTransition(
        `worker ${this.slot} (pid ${this.pid}): illegal transition ${from} -> ${to} (${reason})`,
      );
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

  /** The process ended: the exited transition, with why in words from what the master knew of it. */
  exited(code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    const reason =
      this.killReason !== null
        ? `${this.killReason} (${how})`
        : this.#state === 'draining'
          ? `drained (${how})`
          : this.#state === 'booting'
            ? `failed to boot (${this.bootFailure ?? how})`
            : `died unexpectedly (${how})`;
    this.transition('exited', reason);
    return reason;
  }

  kill(): void {
    if (this.#state !== 'exited') this.proc.kill('SIGKILL');
  }

  /** TERM, as a stop of the whole pool gives it: the worker (and its app) may still clean up. */
  terminate(): void {
    if (this.#state !== 'exited') this.proc.kill('SIGTERM');
  }

  /** Uptime in ms, for the crash back-off. */
  uptime(now = Date.now()): number {
    return now - this.startedAt;
  }
}
