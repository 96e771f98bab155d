import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { LeanLogger } from '../../src/shared/lean-log.js';
import type { Logger } from '../../src/shared/log.js';

/** The master's lines must read like the workers' (pino's): same keys, values and order. */
function both(level: string): { lines: () => Array<[string, string]>; lean: LeanLogger; real: pino.Logger } {
  const base = { pid: 42, role: 'master' };
  const leanOut: string[] = [];
  const pinoOut: string[] = [];
  const lean = new LeanLogger(level, base, { write: (l: string) => leanOut.push(l) });
  const real = pino({ level, base, timestamp: () => ',"time":0' }, { write: (l: string) => pinoOut.push(l) });
  const noTime = (l: string): string => JSON.stringify({ ...(JSON.parse(l) as object), time: 0 });
  return { lean, real, lines: () => leanOut.map((l, i) => [noTime(l), noTime(pinoOut[i] ?? '{}')]) };
}

test('a LeanLogger line is the line pino writes for the same call, but for the time', () => {
  const { lean, real, lines } = both('info');
  for (const log of [lean, real] as Logger[]) {
    log.info({ event: 'ready', workers: 2, addresses: ['http://127.0.0.1:8000'] }, 'ready: 2 workers');
    log.child({ worker: 1, workerPid: 7 }).warn({ event: 'worker', state: 'draining' }, 'draining: reload');
    log.error('just a message');
    log.info({ event: 'x', err: Object.assign(new Error('boom'), { code: 'EBOOM' }) }, 'failed');
    log.debug({ event: 'hidden' }, 'below the level');
  }
  const pairs = lines();
  assert.equal(pairs.length, 4);
  for (const [mine, theirs] of pairs) assert.deepEqual(JSON.parse(mine), JSON.parse(theirs));
});

test("a child follows its root's level, as pino's do when the master reloads --log-level", () => {
  const out: string[] = [];
  const root = new LeanLogger('info', { role: 'master' }, { write: (l: string) => out.push(l) });
  const child = root.child({ worker: 0 });
  child.debug({ event: 'a' }, 'hidden');
  root.level = 'debug';
  child.debug({ event: 'b' }, 'shown');
  root.level = 'silent';
  child.fatal({ event: 'c' }, 'hidden too');
  assert.deepEqual(
    out.map((l) => (JSON.parse(l) as { event: string }).event),
    ['b'],
  );
  assert.throws(() => (root.level = 'loud'), /unknown log level "loud"/);
});

test('a value JSON cannot hold does not cost the line', () => {
  const out: string[] = [];
  const log = new LeanLogger('info', {}, { write: (l: string) => out.push(l) });
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  log.info({ event: 'odd', cycle, big: 10n }, 'still written');
  const line = JSON.parse(out[0] ?? '') as Record<string, unknown>;
  assert.equal(line.msg, 'still written');
  assert.equal(line.event, 'odd');
});
