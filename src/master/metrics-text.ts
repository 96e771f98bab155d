// What /metrics answers: the master's pool snapshot and request totals as Prometheus text
// (served by metrics-server.ts).
import { RESTART_REASONS } from './pool-totals.js';
import { DURATION_BUCKETS, type RequestStats, STATUS_CLASSES } from '../shared/request-stats.js';
import type { PoolStatus } from './status-snapshot.js';
import type { WorkerState } from './worker-handle.js';

const STATES: readonly WorkerState[] = ['booting', 'ready', 'draining'];

/** Prometheus text exposition (format 0.0.4) of the whole pool, aggregated by the master. */
// Long because it is the list of metrics, one short block each, in the order they are served.
export function renderMetrics(status: PoolStatus, totals: RequestStats): string {
  const out: string[] = [];
  const metric = (
    name: string,
    type: 'counter' | 'gauge' | 'histogram',
    help: string,
    samples: Array<[string, number]>,
  ): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`);
  };
  metric(
    'prefork_http_requests_total',
    'counter',
    'HTTP requests finished, by status class, since the master started.',
    STATUS_CLASSES.map((c) => [`{status_class="${c}"}`, totals.byClass[c]]),
  );
  metric('prefork_http_requests_in_flight', 'gauge', 'HTTP requests being served now.', [['', status.master.inflight]]);
  let cumulative = 0;
  const buckets: Array<[string, number]> = DURATION_BUCKETS.map((le, i) => {
    cumulative += totals.buckets[i] ?? 0;
    return [`_bucket{le="${le}"}`, cumulative];
  });
  cumulative += totals.buckets[DURATION_BUCKETS.length] ?? 0;
  out.push(
    '# HELP prefork_http_request_duration_seconds Time from request to response end.',
    '# TYPE prefork_http_request_duration_seconds histogram',
  );
  for (const [suffix, value] of [
    ...buckets,
    ['_bucket{le="+Inf"}', cumulative] as [string, number],
    ['_sum', totals.durationSum] as [string, number],
    ['_count', cumulative] as [string, number],
  ]) {
    out.push(`prefork_http_request_duration_seconds${suffix} ${value}`);
  }
  metric(
    'prefork_worker_restarts_total',
    'counter',
    'Workers replaced or removed, by reason.',
    RESTART_REASONS.map((r) => [`{reason="${r}"}`, status.master.restarts[r]]),
  );
  metric(
    'prefork_connections_shed_total',
    'counter',
    'Kept-alive connections closed after their response to even out the pool (--balance).',
    [['', status.master.shed]],
  );
  metric(
    'prefork_workers',
    'gauge',
    'Worker processes by state.',
    STATES.map((s) => [`{state="${s}"}`, status.workers.filter((w) => w.state === s).length]),
  );
  metric(
    'prefork_worker_rss_bytes',
    'gauge',
    'Resident memory of each worker, from its last heartbeat.',
    status.workers.map((w) => [`{worker="${w.id}",pid="${w.pid}"}`, w.rss]),
  );
  metric(
    'prefork_worker_keepalive_connections',
    'gauge',
    'Open connections that carried more than one request, per worker, from its last heartbeat.',
    status.workers.map((w) => [`{worker="${w.id}",pid="${w.pid}"}`, w.keepAlive]),
  );
  metric(
    'prefork_worker_event_loop_lag_seconds',
    'gauge',
    'Mean event-loop delay of each worker over its last heartbeat interval.',
    status.workers.map((w) => [`{worker="${w.id}",pid="${w.pid}"}`, w.lagMs / 1000]),
  );
  // Per-worker binds only: which socket each worker serves on its own.
  const own = status.workers.flatMap((w) =>
    w.addresses.map((a): [string, number] => [`{worker="${w.id}",pid="${w.pid}",address="${label(a)}"}`, 1]),
  );
  if (own.length > 0) metric('prefork_worker_socket_info', 'gauge', "A worker's own socket (a {worker} bind).", own);
  metric('prefork_master_uptime_seconds', 'gauge', 'Seconds since the master started.', [
    ['', status.master.uptimeMs / 1000],
  ]);
  return `${out.join('\n')}\n`;
}

/** A label value as the exposition format escapes it. */
const label = (value: string): string => value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
