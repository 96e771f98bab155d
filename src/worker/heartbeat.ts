import type { IntervalHistogram } from 'node:perf_hooks';
import type { WorkerMessage } from '../shared/messages.js';
import type { Housekeeping } from './housekeeping.js';
import type { HttpServers } from './http-servers.js';
import { sendToMaster } from './master-channel.js';

const LOOP_RESOLUTION_MS = 20;
/**
 * A burst of connects (or closes) is reported within EARLY_BEAT_MS, once the burst is over, so the
 * master balances on fresh counts; at most one early beat per window, whatever the load.
 */
const EARLY_BEAT_MS = 50;
/** The final beat waits this long at most for its write: the exit must not hang on a dead pipe. */
const FINAL_BEAT_MS = 500;

type HeartbeatMessage = Extract<WorkerMessage, { type: 'heartbeat' }>;

/**
 * The worker's heartbeat: stats, balance counts, loop lag and memory for the master, sent from the
 * main thread, so a blocked event loop falls silent, which is the point. The master kills a
 * worker silent longer than --timeout.
 */
export class Heartbeat {
  #loopDelay: IntervalHistogram | null = null;
  #earlyBeat: NodeJS.Timeout | null = null;

  constructor(
    /** 0: no heartbeat at all. */
    private readonly intervalMs: number,
    private readonly housekeeping: Housekeeping,
    /** What the beats report on; null until the worker serves. */
    private readonly servers: () => HttpServers | null,
  ) {}

  start(): void {
    if (this.intervalMs === 0) return;
    // Made here, after 'ready': node:perf_hooks (~1 ms to load) is not on the way to the first request.
    const { monitorEventLoopDelay } = process.getBuiltinModule('node:perf_hooks');
    this.#loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#loopDelay.enable();
    this.#beat();
    setInterval(() => this.#beat(), this.intervalMs).unref();
  }

  /** A beat ahead of time, for the balance (see EARLY_BEAT_MS). */
  soon(): void {
    if (this.#earlyBeat !== null || this.intervalMs === 0) return;
    this.#earlyBeat = setTimeout(() => {
      this.#beat();
      this.#earlyBeat = null;
    }, EARLY_BEAT_MS);
  }

  /** The last beat before exit carries the final counts, so the master's totals miss nothing. */
  final(): Promise<void> {
    return new Promise((resolve) => {
      const servers = this.servers();
      if (servers === null || !process.connected) return resolve();
      const timer = setTimeout(resolve, FINAL_BEAT_MS);
      sendToMaster(this.#message(servers, true), () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** On a timer, so guarded (see Housekeeping). */
  #beat(): void {
    this.housekeeping.run('heartbeat', () => {
      const servers = this.servers();
      if (servers !== null) sendToMaster(this.#message(servers, false));
    });
  }

  /** The one place a heartbeat is made. The final one reports nothing in flight and no lag. */
  #message(servers: HttpServers, final: boolean): HeartbeatMessage {
    const { requests, stats, inflight, canShed } = servers;
    const now = final
      ? { inflight: 0, keepAlive: 0, canShed: false, lagMs: 0 }
      : { inflight, keepAlive: servers.reportKeptAlive(), canShed, lagMs: this.#lagMs() };
    return { type: 'heartbeat', rss: this.housekeeping.rss(), requests, stats, ...now };
  }

  /**
   * Mean delay since the last beat: how late this worker's timers run, i.e. its event-loop lag.
   * The sampling timer's own period is part of every sample: lag is what comes on top.
   */
  #lagMs(): number {
    if (this.#loopDelay === null) return 0;
    const mean = this.#loopDelay.mean;
    this.#loopDelay.reset();
    return Number.isFinite(mean) ? Math.max(0, mean / 1e6 - LOOP_RESOLUTION_MS) : 0;
  }
}
