import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_BOOTING } from '../../src/master/pool.js';
import { World, useFakeMaster } from '../helpers/fake-master.js';

/**
 * A big pool starts in waves: never more than MAX_BOOTING workers booting at once, so each one's
 * --boot-timeout measures its own start-up, not the queue of all the others for the CPU
 * (docs/performance.md, "Scale").
 */
useFakeMaster();

const booting = (w: World): number => w.running.filter((f) => !f.ready).length;

test('256 workers start MAX_BOOTING at a time, each wave as the previous ones get ready', () => {
  const n = 256;
  const w = new World({ workers: n, bootTimeout: 30 });
  assert.equal(w.fakes.length, MAX_BOOTING, 'the first wave');
  let most = 0;
  while (w.running.some((f) => !f.ready)) {
    const next = w.running.find((f) => !f.ready)!;
    w.boot(next);
    most = Math.max(most, booting(w));
  }
  assert.ok(most <= MAX_BOOTING, `at most ${MAX_BOOTING} booting at once, saw ${most}`);
  assert.equal(w.fakes.length, n, 'one fork per slot, none wasted');
  w.assertWhole(n);
  assert.equal(w.master.snapshot().master.state, 'running');
});

test('a pool no bigger than MAX_BOOTING forks every worker at once, as before', () => {
  const w = new World({ workers: Math.min(8, MAX_BOOTING) });
  assert.equal(w.fakes.length, Math.min(8, MAX_BOOTING));
});

test('scaling up a running pool also forks in waves', () => {
  const w = new World({ workers: 2 });
  w.bootAll();
  w.master.scale(2 + MAX_BOOTING * 2);
  assert.equal(booting(w), MAX_BOOTING);
  w.converge(200);
  w.assertWhole(2 + MAX_BOOTING * 2);
});
