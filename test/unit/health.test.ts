import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { HealthMonitor, MEMORY_SAMPLES, heartbeatInterval } from '../../src/master/health.js';
import { WorkerHandle } from '../../src/master/worker-handle.js';

const limits = { timeoutMs: 2000, maxMemoryBytes: 100 * 1048576, heartbeatMs: 500, checkMs: 250 };

function readyWorker(pid: number): WorkerHandle {
  const w = new WorkerHandle(0, { pid, send: () => {}, kill: () => {} }, () => {}, pino({ enabled: false }));
  w.transition('ready', 'test');
  return w;
}

/** Checks every 250 ms from `from` to `to`, as the master's health tick does; returns the hung pids. */
function checks(
  h: HealthMonitor,
  workers: WorkerHandle[],
  from: number,
  to: number,
  beat: WorkerHandle[] = [],
): number[] {
  const hung: number[] = [];
  for (let now = from; now <= to; now += 250) {
    for (const w of beat) h.beat(w, 1, now);
    hung.push(...h.hung(workers, now).map((v) => v.worker.pid));
  }
  return hung;
}

test('hung only after --timeout plus one beat interval of silence, and once', () => {
  const h = new HealthMonitor(limits);
  const w = readyWorker(1);
  h.watch(w, 0);
  assert.deepEqual(checks(h, [w], 250, 2500), []);
  assert.deepEqual(checks(h, [w], 2750, 5000), [1]);
});

test('a worker that beats is never hung; hang detection off with --timeout 0', () => {
  const h = new HealthMonitor(limits);
  const w = readyWorker(1);
  h.watch(w, 0);
  assert.deepEqual(checks(h, [w], 250, 10_000, [w]), []);
  const off = new HealthMonitor({ ...limits, timeoutMs: 0 });
  off.watch(w, 0);
  assert.deepEqual(checks(off, [w], 250, 10_000), []);
});

test('the master asleep longer than --timeout: the time it did not watch is held against nobody', () => {
  const h = new HealthMonitor(limits);
  const [a, b] = [readyWorker(1), readyWorker(2)];
  h.watch(a, 0);
  h.watch(b, 0);
  // No check at all between watch and the pause: the master stopped right after its workers got ready.
  assert.deepEqual(checks(h, [a, b], 5000, 5000), [], 'the first check after a 5 s sleep');
  // Awake again: `a` beats (its beats waited in the pipe), `b` stays silent and is hung 2.5 s of watching later.
  assert.deepEqual(checks(h, [a, b], 5250, 7250, [a]), []);
  assert.deepEqual(checks(h, [a, b], 7500, 8000, [a]), [2]);
});

test('silence before a pause still counts after it', () => {
  const h = new HealthMonitor(limits);
  const w = readyWorker(1);
  h.watch(w, 0);
  assert.deepEqual(checks(h, [w], 250, 1500), []);
  // 1.5 s silent, then the master sleeps 10 s: 1 s more of watching is enough.
  assert.deepEqual(checks(h, [w], 11_500, 12_250), []);
  assert.deepEqual(checks(h, [w], 12_500, 13_000), [1]);
});

test(`bloated after ${MEMORY_SAMPLES} beats in a row above --max-memory, not after a spike`, () => {
  const h = new HealthMonitor(limits);
  const w = readyWorker(1);
  h.watch(w, 0);
  const big = 200 * 1048576;
  assert.equal(h.beat(w, big, 1), null);
  assert.equal(h.beat(w, 1, 2), null, 'a spike');
  assert.equal(h.beat(w, big, 3), null);
  assert.equal(h.beat(w, big, 4), null);
  assert.equal(h.beat(w, big, 5)?.problem, 'bloated');
  assert.equal(h.rss(w), big);
});

test('the beat interval: a quarter of --timeout, between 50 ms and 1 s', () => {
  assert.equal(heartbeatInterval(0), 1000);
  assert.equal(heartbeatInterval(0.1), 50);
  assert.equal(heartbeatInterval(2), 500);
  assert.equal(heartbeatInterval(30), 1000);
});
