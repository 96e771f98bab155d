/**
 * Connection balance across workers. Workers accept from one shared socket, and the kernel hands
 * a burst of connects to whichever worker wakes first: wrk's 64 keep-alive connections landed
 * 7/57 or 49/15 between two workers here, and keep-alive keeps them there for good (a proxy's
 * upstream pool does the same). So when a worker holds far more than its share, the master tells
 * it to shed the excess: it stops accepting for a moment and answers that many requests with
 * `Connection: close`, as a drain does; the clients reconnect, and the kernel can only give those
 * connections to the other workers. No request fails: closing after a response is HTTP's own way.
 * Pure bookkeeping: the master feeds it heartbeats and sends what it decides.
 */

/** A worker more than this fraction above the pool's mean is over its share (60 % of two workers' connections). */
export const TOLERANCE = 0.2;
/** Below this many connections over the mean, moving them costs more reconnects than it evens out. */
export const MIN_EXCESS = 4;

/**
 * How many connections a worker holding `mine` should shed, given every ready worker's count
 * (its own included): down to the mean, or 0 when it is within its share.
 */
export function excessConnections(mine: number, pool: readonly number[]): number {
  if (pool.length < 2) return 0;
  const mean = pool.reduce((a, b) => a + b, 0) / pool.length;
  const excess = Math.floor(mine - mean);
  return mine > mean * (1 + TOLERANCE) && excess >= MIN_EXCESS ? excess : 0;
}

/**
 * A worker whose connection count moved this far since the master last heard it reports early
 * (a heartbeat ahead of time), so a burst of connects is judged on fresh counts from every worker.
 */
export const REPORT_STEP = MIN_EXCESS;

export interface Share {
  connections: number;
}

/**
 * Looks at the pool on the master's timer: the worker holding the most connections sheds its
 * excess. One order at a time, then quiet for `quietMs`: the counts a decision rests on must show
 * the last shed's effect before the next.
 */
export class Balancer {
  #quietUntil = 0;

  constructor(private readonly quietMs: number) {}

  decide<W extends Share>(pool: readonly W[], now = Date.now()): { worker: W; count: number } | null {
    if (now < this.#quietUntil || pool.length < 2) return null;
    let busiest = pool[0]!;
    for (const w of pool) if (w.connections > busiest.connections) busiest = w;
    const count = excessConnections(
      busiest.connections,
      pool.map((w) => w.connections),
    );
    if (count === 0) return null;
    this.#quietUntil = now + this.quietMs;
    return { worker: busiest, count };
  }
}
