/**
 * Request statistics: counted in each worker (no IPC per request), sent to the master with the
 * heartbeat as cumulative totals, and summed there with the totals of workers that have left,
 * so a counter never goes down when a worker exits or is recycled.
 */

/** Upper bounds (seconds) of the request duration histogram, Prometheus style. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

export interface RequestStats {
  /** Finished requests by status class. */
  byClass: Record<StatusClass, number>;
  /** Non-cumulative counts per bucket of DURATION_BUCKETS, plus one for +Inf. */
  buckets: number[];
  durationSum: number;
  /** Responses that closed a kept-alive connection to even out the pool (balance.ts). */
  shed: number;
}

export const emptyStats = (): RequestStats => ({
  byClass: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
  buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
  durationSum: 0,
  shed: 0,
});

export function statusClass(status: number): StatusClass {
  // An index, not a template string: no new string for every request.
  return STATUS_CLASSES[Math.min(5, Math.max(1, Math.floor(status / 100))) - 1]!;
}

/**
 * Counts one finished request: a few increments, cheap enough for every request. Without its
 * duration (null: nothing reads the histogram) only its status class.
 */
export function record(stats: RequestStats, status: number, seconds: number | null): void {
  // The common case as a named property: a computed key showed in keep-alive profiles.
  if (status >= 200 && status < 300) stats.byClass['2xx'] += 1;
  else stats.byClass[statusClass(status)] += 1;
  if (seconds === null) return;
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i += 1;
  stats.buckets[i]! += 1;
  stats.durationSum += seconds;
}

export function total(stats: RequestStats): number {
  return STATUS_CLASSES.reduce((n, c) => n + stats.byClass[c], 0);
}

/** a + b, as a new object. */
export function add(a: RequestStats, b: RequestStats): RequestStats {
  const out = emptyStats();
  for (const c of STATUS_CLASSES) out.byClass[c] = a.byClass[c] + b.byClass[c];
  out.buckets = out.buckets.map((_, i) => (a.buckets[i] ?? 0) + (b.buckets[i] ?? 0));
  out.durationSum = a.durationSum + b.durationSum;
  out.shed = a.shed + b.shed;
  return out;
}
