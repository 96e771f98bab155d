import type { Config } from '../config/options.js';
import type { RequestStats } from './request-stats.js';
import type { TlsMaterial } from '../config/tls.js';

/** Who a worker becomes. `user` is the name initgroups() needs; null for a uid with no entry. */
export interface WorkerIdentity {
  readonly user: string | null;
  readonly uid: number;
  readonly gid: number;
}

/**
 * The master <-> worker protocol: every message either side sends is one member of these unions.
 * Sockets travel as the IPC handle of a `handle` message, one per bind, in bind order.
 */

/** What a worker needs from the frozen config; workers never read argv or the config file. */
export interface WorkerSettings {
  app: string;
  /** The app's own arguments (after `--`): its process.argv is [node, APP, ...args]. */
  args: readonly string[];
  /** The directory the operator started us in; relative app paths resolve from it. */
  cwd: string;
  factory: boolean;
  keepAliveTimeout: number;
  gracefulTimeout: number;
  backlog: number;
  accessLog: boolean;
  /** --metrics-bind: time every request for the duration histogram (the access log times its own). */
  requestDurations: boolean;
  /**
   * Something reads what each response ends as (in flight, status classes): `prefork status`
   * (--control), /metrics, the access log, --limit-concurrency. Without any, a request costs no
   * 'close' listener (see worker/requests.ts).
   */
  countResponses: boolean;
  logLevel: Config['logLevel'];
  logFormat: Config['logFormat'];
  /** Absolute; null = stdout. The worker opens it itself (O_APPEND) and reopens it on SIGUSR1. */
  logFile: string | null;
  name: string | null;
  /** One per handle, for logs: http://127.0.0.1:8000, unix:/run/app.sock. */
  urls: string[];
  /** This worker's own limit: --max-requests plus its share of jitter; 0 = none. */
  maxRequests: number;
  limitConcurrency: number;
  /** How often to send a heartbeat from the event loop; 0 = never. */
  heartbeatMs: number;
  /** Seconds to keep serving after a TERM/INT sent to the worker itself, before draining. */
  shutdownDelay: number;
  /** Slow-client limits, in Node's units (ms, bytes); 0 ms = off. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxHeaderSize: number;
  /** PEM contents read by the master (workers never open key files); null = plain HTTP. */
  tls: TlsMaterial | null;
  /** --user/--group: who the worker becomes before it loads the app; null = stay as started. */
  user: WorkerIdentity | null;
  /** Seconds: an app that exports nothing servable must call listen() (drop-in mode) within this. */
  bootTimeout: number;
  /** --threads: tinypool threads for runTask(); 0 = tasks run on the main thread. */
  threads: number;
  /** --task-timeout in ms; 0 = off. */
  taskTimeoutMs: number;
}

export type MasterMessage =
  | { type: 'start'; settings: WorkerSettings; handles: number }
  | { type: 'handle'; index: number }
  | { type: 'drain' }
  /**
   * Over its share of the pool's connections: stop accepting a moment, close `count` after their
   * next response (balance.ts).
   */
  | { type: 'shed'; count: number }
  /** SIGUSR1 reached the master: open the log file again by its name (logrotate renamed it). */
  | { type: 'reopen-logs' };

/** Why a worker leaves on its own; the master logs it and counts restarts by it. */
export type RecycleReason = 'max-requests';

export type WorkerMessage =
  /** The worker's message listener is in place: it may now be sent the start message. */
  | { type: 'hello' }
  | { type: 'ready' }
  /** The app could not load; the worker exits right after. */
  | { type: 'boot-failed'; reason: string }
  /** Sent from the event loop: its absence means the loop is blocked. */
  | {
      type: 'heartbeat';
      rss: number;
      requests: number;
      inflight: number;
      keepAlive: number;
      canShed: boolean;
      stats: RequestStats;
      lagMs: number;
    }
  /**
   * Send the sockets again: the worker closed its copies, done shedding, or (drop-in mode) the
   * app closed its server and listens again. Only a ready worker gets them.
   */
  | { type: 'resume' }
  /** Close to a self-imposed limit: the master starts the replacement ahead of time. */
  | { type: 'recycle-soon'; reason: RecycleReason }
  /** At the limit: the worker stopped accepting and drains itself. */
  | { type: 'draining'; reason: RecycleReason };

const WORKER_TYPES = new Set<string>([
  'hello',
  'ready',
  'boot-failed',
  'heartbeat',
  'recycle-soon',
  'draining',
  'resume',
]);
const MASTER_TYPES = new Set<string>(['start', 'handle', 'drain', 'shed', 'reopen-logs']);

export const isWorkerMessage = (m: unknown): m is WorkerMessage =>
  typeof m === 'object' && m !== null && WORKER_TYPES.has((m as { type?: string }).type ?? '');

export const isMasterMessage = (m: unknown): m is MasterMessage =>
  typeof m === 'object' && m !== null && MASTER_TYPES.has((m as { type?: string }).type ?? '');
