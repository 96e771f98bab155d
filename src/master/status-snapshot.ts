/**
 * One moment's view of the pool (PoolStatus), built from the master's worker table and its
 * PoolTotals: what `prefork status` prints (JSON or the table below) and /metrics renders.
 */
import type { Config } from '../config/options.js';
import type { PoolTotals, RestartReason } from './pool-totals.js';
import { type StatusClass, total } from '../shared/request-stats.js';
import type { WorkerHandle, WorkerState } from './worker-handle.js';

/** What `prefork status --json` prints and the control socket returns. */
export interface WorkerStatus {
  id: number;
  pid: number;
  state: WorkerState;
  generation: number;
  ageMs: number;
  requests: number;
  inflight: number;
  /** Open connections that carried more than one request (what balance.ts evens out). */
  keepAlive: number;
  rss: number;
  lagMs: number;
  restarts: number;
  lastExit: string | null;
  /** The worker's own sockets (per-worker binds); the shared ones are the master's `binds`. */
  addresses: string[];
}

export interface PoolStatus {
  master: {
    pid: number;
    name: string | null;
    state: 'starting' | 'running' | 'stopping';
    uptimeMs: number;
    app: string;
    binds: string[];
    workers: number;
    ready: number;
    reloading: boolean;
    generation: number;
    requests: number;
    inflight: number;
    byClass: Record<StatusClass, number>;
    restarts: Record<RestartReason, number>;
    /** Kept-alive connections the workers closed to even out the pool, live and retired workers together. */
    shed: number;
    options: Record<string, unknown>;
  };
  workers: WorkerStatus[];
}

/** What the master knows of its pool at one moment: the input of poolStatus(). */
export interface PoolView {
  config: Config;
  state: PoolStatus['master']['state'];
  startedAt: number;
  binds: string[];
  desired: number;
  ready: number;
  reloading: boolean;
  generation: number;
  stats: PoolTotals;
  workers: ReadonlyArray<{ handle: WorkerHandle; generation: number }>;
  /** A slot's own sockets (per-worker binds). */
  addresses?: (slot: number) => string[];
}

/** The pool as `prefork status` and the metrics show it. */
export function poolStatus(view: PoolView, now: number): PoolStatus {
  const { stats, config: c } = view;
  const totals = stats.totals();
  const workers = view.workers
    .map(({ handle: w, generation }): WorkerStatus => {
      const v = stats.vitals(w);
      const slot = stats.slot(w.slot);
      return {
        id: w.slot,
        pid: w.pid,
        state: w.state,
        generation,
        ageMs: w.uptime(now),
        requests: v ? total(v.stats) : 0,
        inflight: v?.inflight ?? 0,
        keepAlive: v?.keepAlive ?? 0,
        rss: v?.rss ?? 0,
        lagMs: v?.lagMs ?? 0,
        restarts: slot.restarts,
        lastExit: slot.lastExit,
        addresses: view.addresses?.(w.slot) ?? [],
      };
    })
    .sort((a, b) => a.id - b.id || a.ageMs - b.ageMs);
  return {
    master: {
      pid: process.pid,
      name: c.name,
      state: view.state,
      uptimeMs: now - view.startedAt,
      app: c.app ?? '',
      binds: view.binds,
      workers: view.desired,
      ready: view.ready,
      reloading: view.reloading,
      generation: view.generation,
      requests: total(totals),
      inflight: stats.inflight(),
      byClass: totals.byClass,
      restarts: { ...stats.restarts },
      shed: totals.shed,
      options: {
        'max-requests': c.maxRequests,
        'max-requests-jitter': c.maxRequestsJitter,
        timeout: c.timeout,
        'graceful-timeout': c.gracefulTimeout,
        'max-memory': c.maxMemory,
        'reload-batch': c.reloadBatch,
        'limit-concurrency': c.limitConcurrency,
        'keep-alive-timeout': c.keepAliveTimeout,
      },
    },
    workers,
  };
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

const mb = (bytes: number): string => (bytes > 0 ? `${(bytes / 1048576).toFixed(1)} MB` : '-');

/** The human table of `prefork status`. */
export function formatStatus(s: PoolStatus): string {
  const m = s.master;
  const restarts =
    Object.entries(m.restarts)
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${r} ${n}`)
      .join(', ') || 'none';
  const head = [
    `prefork master pid ${m.pid}${m.name ? ` [${m.name}]` : ''}  ${m.state}${m.reloading ? ' (reloading)' : ''}  up ${duration(m.uptimeMs)}`,
    `app:      ${m.app}`,
    `binds:    ${m.binds.join(', ')}`,
    `workers:  ${m.ready}/${m.workers} ready   requests ${m.requests}   in flight ${m.inflight}   restarts: ${restarts}`,
    `options:  ${Object.entries(m.options)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ')}`,
    '',
  ];
  // The column appears with per-worker binds only.
  const own = s.workers.some((w) => w.addresses.length > 0) ? ['ADDRESS'] : [];
  const rows = [
    ['ID', 'PID', 'STATE', 'AGE', 'REQUESTS', 'INFLIGHT', 'KEEPALIVE', 'RSS', 'LAG', 'RESTARTS', ...own, 'LAST EXIT'],
  ];
  for (const w of s.workers) {
    rows.push([
      String(w.id),
      String(w.pid),
      w.state,
      duration(w.ageMs),
      String(w.requests),
      String(w.inflight),
      String(w.keepAlive),
      mb(w.rss),
      `${w.lagMs.toFixed(1)}ms`,
      String(w.restarts),
      ...(own.length > 0 ? [w.addresses.join(',') || '-'] : []),
      w.lastExit ?? '-',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  return [...head, ...table].join('\n') + '\n';
}
