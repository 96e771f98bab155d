import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import type { Config } from '../../src/config/options.js';
import { flush, started, useFakeMaster } from '../helpers/fake-master.js';

/**
 * Every interleaving of reloads, scaling, stops and worker deaths ends with the pool whole
 * (test/helpers/fake-master.ts).
 */
useFakeMaster();

describe('overlapping reloads, scaling and stops', () => {
  test('two reloads at once coalesce: one new worker per slot, RELOADING=1 once, READY=1 at the end', async () => {
    const w = started();
    await Promise.all([w.master.reload(), w.master.reload()]);
    w.converge();
    w.assertWhole(2);
    assert.deepEqual(w.notes, ['READY=1', 'RELOADING=1', 'READY=1']);
  });

  test("HUP, then HUP again while the first reload's workers boot: the newest config wins", async () => {
    const w = started();
    w.actions.reload();
    await flush();
    assert.ok(w.running.length > 2, 'successors booting');
    w.next = Object.freeze({ ...w.next, workers: 3 }) as Config;
    w.actions.reload();
    await flush();
    w.converge();
    w.assertWhole(3);
    assert.deepEqual(w.notes, ['READY=1', 'RELOADING=1', 'READY=1']);
  });

  test('a reload asked for while a new worker boots for the previous one stops that worker and starts over', async () => {
    const w = started();
    await w.master.reload();
    const stale = w.fakes.at(-1)!;
    await w.master.reload();
    assert.deepEqual(stale.signals, ['SIGTERM'], 'the successor booting with the older config is stopped');
    w.converge();
    w.assertWhole(2);
    assert.equal(stale.ready, false);
  });

  test('overlapping reloads whose config reads finish out of order: the newest ask wins', async () => {
    const w = started();
    const reads: Array<(c: Config) => void> = [];
    w.read = () => new Promise((resolve) => reads.push(resolve));
    const first = w.master.reload();
    const second = w.master.reload();
    await flush();
    reads[1]!(Object.freeze({ ...w.next, workers: 3 }) as Config);
    await flush();
    reads[0]!(Object.freeze({ ...w.next, workers: 1 }) as Config);
    assert.deepEqual(await Promise.all([first, second]), [null, null]);
    w.converge();
    w.assertWhole(3);
    assert.equal(w.events('reload').length, 1, 'the older ask coalesced into the newer');
  });

  test('a reload superseded by one whose config read fails answers with that failure, not with a reload it never did', async () => {
    const w = started();
    const reads: Array<{ resolve: (c: Config) => void; reject: (e: Error) => void }> = [];
    w.read = () => new Promise((resolve, reject) => reads.push({ resolve, reject }));
    const first = w.master.reload();
    const second = w.master.reload();
    await flush();
    reads[0]!.resolve(w.next);
    reads[1]!.reject(new Error('config.json: unexpected token'));
    const [a, b] = await Promise.all([first, second]);
    assert.match(String(b), /reload aborted.*unexpected token/);
    assert.equal(a, b);
    assert.equal(w.master.snapshot().master.reloading, false);
    assert.equal(w.fakes.length, 2, 'nothing was replaced');
  });

  test('50 HUPs, some while the config is read, some while new workers boot, some after they are ready', async () => {
    const w = started();
    for (let i = 0; i < 50; i += 1) {
      w.actions.reload();
      if (i % 3 === 0) await flush();
      if (i % 7 === 0) w.bootAll();
      if (i % 11 === 0) w.settle();
      mock.timers.tick(40);
    }
    await flush();
    w.converge();
    w.assertWhole(2);
    assert.equal(w.notes.filter((n) => n === 'RELOADING=1').length, w.notes.filter((n) => n === 'READY=1').length - 1);
  });

  test('HUP, then TTIN 100 ms later: three workers, one per slot', async () => {
    const w = started();
    w.actions.reload();
    await flush();
    mock.timers.tick(100);
    w.actions.scaleUp();
    w.converge();
    w.assertWhole(3);
  });

  test('HUP, then TTOU while the new workers boot: the removed slot stops, its successor too', async () => {
    const w = started({ workers: 3 });
    w.actions.reload();
    await flush();
    w.actions.scaleDown();
    w.converge();
    w.assertWhole(2);
  });

  test('a worker dies during a reload: its slot is served again and the reload still ends', async () => {
    const w = started({ workers: 2, reloadBatch: 1 });
    await w.master.reload();
    const untouched = w.running.find((f) => f.ready && f.slot === 1)!;
    w.exit(untouched, null, 'SIGKILL');
    w.converge();
    w.assertWhole(2);
  });

  test('the old worker being replaced dies while its successor boots: no second fork for the slot', async () => {
    const w = started();
    await w.master.reload();
    const old = w.running.find((f) => f.ready && f.slot === 0)!;
    const count = w.fakes.length;
    w.exit(old, null, 'SIGKILL');
    assert.equal(w.fakes.length, count, 'the booting successor covers the slot');
    w.converge();
    w.assertWhole(2);
  });

  test('HUP, then TERM while the config is read and while new workers boot: every worker stops, exit 0', async () => {
    for (const when of ['reading', 'booting'] as const) {
      const w = started();
      w.actions.reload();
      if (when === 'booting') await flush();
      w.actions.stop();
      await flush();
      if (when === 'reading') assert.equal(w.running.length, 2, 'no worker forked after the stop');
      w.settle();
      await flush();
      assert.equal(w.code, 0);
      assert.equal(w.running.length, 0);
      assert.equal(w.notes.at(-1), 'STOPPING=1');
    }
  });

  test('TTIN and TTOU in a burst, with deaths in between, settle at the last count', () => {
    const w = started();
    for (const a of [
      'scaleUp',
      'scaleUp',
      'scaleDown',
      'scaleUp',
      'scaleDown',
      'scaleDown',
      'scaleDown',
      'scaleUp',
    ] as const) {
      w.actions[a]();
      const victim = w.running.find((f) => f.ready);
      if (victim !== undefined) w.exit(victim, null, 'SIGKILL');
      if (a === 'scaleUp') w.bootAll();
    }
    w.converge();
    w.assertWhole(2);
  });
});
