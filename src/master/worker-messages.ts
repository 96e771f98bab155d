import type { HealthMonitor } from './health.js';
import type { RawHandle } from '../shared/internals.js';
import type { Listener } from './listeners.js';
import type { Logger } from '../shared/log.js';
import type { WorkerMessage, WorkerSettings } from '../shared/messages.js';
import type { Config } from '../config/options.js';
import type { PoolTotals } from './pool-totals.js';
import type { WorkerPool } from './pool.js';
import type { WorkerHandle } from './worker-handle.js';

export interface MessageHost {
  log: Logger;
  pool: WorkerPool;
  stats: PoolTotals;
  health: HealthMonitor;
  /** The sockets a worker of this slot is given: the shared ones and the slot's own. */
  handles: (slot: number) => readonly Listener[];
  config: () => Config;
  /** The settings every new worker starts from (derived from the config in force). */
  settings: () => WorkerSettings;
  /** False once the master closed its listeners (a stop): no worker gets them again. */
  listening: () => boolean;
}

/** The master's side of the protocol (messages.ts): what each message from a worker leads to. */
export class WorkerMessages {
  constructor(private readonly host: MessageHost) {}

  receive(handle: WorkerHandle, message: WorkerMessage): void {
    const { host } = this;
    switch (message.type) {
      case 'hello':
        handle.send({
          type: 'start',
          settings: this.#settingsForNewWorker(handle.slot),
          handles: host.handles(handle.slot).length,
        });
        this.#sendHandles(handle);
        break;
      case 'resume':
        if (handle.state === 'ready') this.#sendHandles(handle);
        break;
      case 'ready':
        if (handle.state === 'booting') handle.transition('ready', 'serving');
        break;
      case 'boot-failed':
        handle.bootFailure = message.reason;
        break;
      case 'heartbeat':
        this.#heartbeat(handle, message);
        break;
      case 'recycle-soon':
        // The limit is the worker's to enforce; we only make sure its successor is on the way.
        if (handle.state === 'ready') host.pool.replacements.start(handle, message.reason);
        break;
      case 'draining':
        // Already draining means we asked first (its successor is ready): nothing to add.
        if (handle.state !== 'ready') break;
        handle.transition('draining', message.reason);
        handle.exitCause = 'max_requests';
        host.pool.replacements.start(handle, message.reason);
        break;
    }
  }

  #heartbeat(handle: WorkerHandle, message: Extract<WorkerMessage, { type: 'heartbeat' }>): void {
    const { requests, inflight, keepAlive, canShed, rss, lagMs, stats } = message;
    this.host.stats.beat(handle, { requests, inflight, keepAlive, canShed, rss, lagMs, stats });
    const verdict = this.host.health.beat(handle, rss);
    if (verdict === null) return;
    handle.log.warn({ event: 'worker-bloated', rss }, verdict.detail);
    this.host.pool.replacements.queue(handle, 'max-memory');
  }

  #settingsForNewWorker(slot: number): WorkerSettings {
    const { maxRequests, maxRequestsJitter } = this.host.config();
    const jitter = maxRequests > 0 && maxRequestsJitter > 0 ? Math.floor(Math.random() * (maxRequestsJitter + 1)) : 0;
    const urls = this.host.handles(slot).map((l) => l.url);
    return { ...this.host.settings(), urls, maxRequests: maxRequests > 0 ? maxRequests + jitter : 0 };
  }

  #sendHandles(handle: WorkerHandle): void {
    if (!this.host.listening()) return;
    this.host.handles(handle.slot).forEach((l, index) => handle.send({ type: 'handle', index }, l.handle as RawHandle));
  }
}
