import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CrashBackoff } from '../../src/master/backoff.js';

test('deaths sooner than min-uptime back off exponentially up to the cap', () => {
  const b = new CrashBackoff(() => 1000);
  assert.deepEqual(
    [10, 10, 10, 10].map((u) => b.next(u)),
    [100, 200, 400, 800],
  );
  for (let i = 0; i < 20; i += 1) b.next(0);
  assert.equal(b.next(0), 30_000);
});

test('a healthy run resets the streak, and a healthy death restarts at once', () => {
  const b = new CrashBackoff(() => 1000);
  b.next(10);
  b.next(10);
  assert.equal(b.next(5000), 0);
  assert.equal(b.next(10), 100);
});

test('min-uptime is read at each death (a reload may change it)', () => {
  let min = 1000;
  const b = new CrashBackoff(() => min);
  assert.equal(b.next(1500), 0);
  min = 2000;
  assert.equal(b.next(1500), 100);
});

test('a worker started since the streak began that outlives min-uptime ends the streak; an older one does not', () => {
  const b = new CrashBackoff(() => 1000);
  assert.equal(b.next(10, 10_000), 100);
  assert.equal(b.next(10, 10_300), 200);
  b.survived(5_000, 10_500);
  assert.equal(b.next(10, 10_600), 400, 'a worker from before the streak proves nothing');
  b.survived(10_400, 11_000);
  assert.equal(b.next(10, 11_100), 800, 'not yet min-uptime old');
  b.survived(10_400, 11_400);
  assert.equal(b.next(10, 11_500), 100, 'it outlived min-uptime: the streak is over');
});
