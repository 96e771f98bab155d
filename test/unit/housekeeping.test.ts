import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Housekeeping } from '../../src/worker/housekeeping.js';

function recorder(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { base: null },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, lines };
}

test('Housekeeping: a chore that throws is swallowed, reported at most once a minute with the count left unsaid', () => {
  const { log, lines } = recorder();
  let now = 0;
  const chores = new Housekeeping(
    () => log,
    () => now,
  );
  let runs = 0;
  const failing = (): void => {
    runs += 1;
    throw Object.assign(new Error('EMFILE: too many open files, uv_resident_set_memory'), { code: 'EMFILE' });
  };
  for (let i = 0; i < 5; i += 1, now += 1000) chores.run('heartbeat', failing);
  assert.equal(runs, 5, 'every tick tries again');
  assert.equal(lines.length, 1);
  assert.deepEqual([lines[0]?.event, lines[0]?.chore, lines[0]?.unreported], ['housekeeping-failed', 'heartbeat', 0]);
  chores.run('stats', failing);
  assert.equal(lines.length, 2, 'each chore has its own allowance');
  now = 61_000;
  chores.run('heartbeat', failing);
  assert.deepEqual([lines.length, lines[2]?.chore, lines[2]?.unreported], [3, 'heartbeat', 4]);
  let ran = false;
  chores.run('heartbeat', () => (ran = true));
  assert.ok(ran);
  assert.equal(lines.length, 3, 'a chore that works says nothing');
});

test('Housekeeping: without a logger yet, failures are still swallowed; rss() reads the resident set size', () => {
  const chores = new Housekeeping(() => null);
  assert.doesNotThrow(() =>
    chores.run('heartbeat', () => {
      throw new Error('boom');
    }),
  );
  assert.ok(chores.rss() > 1024 * 1024);
});
