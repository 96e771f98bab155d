import type { RestartReason } from './pool-stats.js';
import type { StatusClass } from './stats.js';
import type { WorkerState } from './worker-handle.js';

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
    /** Kept-alive connections workers were told to close to even out the pool. */
    shed: number;
    options: Record<string, unknown>;
  };
  workers: WorkerStatus[];
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
  const restarts = Object.entries(m.restarts).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ') || 'none';
  const head = [
    `prefork master pid ${m.pid}${m.name ? ` [${m.name}]` : ''}  ${m.state}${m.reloading ? ' (reloading)' : ''}  up ${duration(m.uptimeMs)}`,
    `app:      ${m.app}`,
    `binds:    ${m.binds.join(', ')}`,
    `workers:  ${m.ready}/${m.workers} ready   requests ${m.requests}   in flight ${m.inflight}   restarts: ${restarts}`,
    `options:  ${Object.entries(m.options).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`,
    '',
  ];
  const rows = [['ID', 'PID', 'STATE', 'AGE', 'REQUESTS', 'INFLIGHT', 'KEEPALIVE', 'RSS', 'LAG', 'RESTARTS', 'LAST EXIT']];
  for (const w of s.workers) {
    rows.push([String(w.id), String(w.pid), w.state, duration(w.ageMs), String(w.requests), String(w.inflight), String(w.keepAlive), mb(w.rss), `${w.lagMs.toFixed(1)}ms`, String(w.restarts), w.lastExit ?? '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  return [...head, ...table].join('\n') + '\n';
}
