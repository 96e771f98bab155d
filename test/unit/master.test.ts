import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { HEALTH_CHECK_MS } from '../../src/master/master.js';
import { type Fake, World, flush, heartbeat, started, useFakeMaster } from '../helpers/fake-master.js';

/** The master loop driven by fake workers and fake timers (test/helpers/fake-master.ts). */
useFakeMaster();

describe('crash and back-off', () => {
  test('a worker that was ready is replaced at once, however young and however often', () => {
    const w = started({ minUptime: 60 });
    for (let i = 0; i < 20; i += 1) {
      const victim = w.running.find((f) => f.ready)!;
      const before = w.fakes.length;
      w.exit(victim, null, 'SIGKILL');
      assert.equal(w.fakes.length, before + 1, `death ${i}: its slot is forked again at once`);
      assert.equal(w.fakes.at(-1)!.slot, victim.slot);
      w.bootAll();
    }
    assert.equal(w.events('backoff').length, 0);
    assert.equal(w.master.stats.restarts.crash, 20);
    w.assertWhole(2);
  });

  test('workers that die before they are ever ready back off 0.1, 0.2, 0.4 s; one that serves again ends the streak', () => {
    const w = started({ minUptime: 60 });
    w.exit(w.running[0]!, null, 'SIGKILL'); // served: at once
    for (const delay of [100, 200, 400]) {
      const booting = w.running.find((f) => !f.ready)!;
      w.exit(booting, 4);
      const count = w.fakes.length;
      assert.equal(w.events('backoff').at(-1)?.delayMs, delay);
      mock.timers.tick(delay - 1);
      assert.equal(w.fakes.length, count, 'not before the delay');
      mock.timers.tick(1);
      assert.equal(w.fakes.length, count + 1, 'forked once the delay is over');
    }
    w.bootAll();
    w.assertWhole(2);
    // Ready, then killed: at once, and the streak goes on where it was (no proof the app boots yet).
    w.exit(w.running[0]!, null, 'SIGKILL');
    w.exit(
      w.running.find((f) => !f.ready)!,
      4,
    );
    assert.equal(w.events('backoff').at(-1)?.delayMs, 800);
  });

  test('a boot failure while starting stops the master with exit 4', async () => {
    const w = new World();
    w.boot(w.fakes[0]!);
    w.send(w.fakes[1]!, { type: 'boot-failed', reason: 'boom at import' });
    w.exit(w.fakes[1]!, 4);
    w.settle();
    await flush();
    assert.equal(w.code, 4);
    assert.match(String(w.events('fatal')[0]?.reason), /boom at import/);
  });
});

describe('planned replacement: surge, then drain', () => {
  test('max-requests: the successor is forked ahead of time; the old worker drains once it is ready', () => {
    const w = started();
    const old = w.running[0]!;
    w.send(old, { type: 'recycle-soon', reason: 'max-requests' });
    const successor = w.fakes.at(-1)!;
    assert.equal(successor.slot, old.slot);
    assert.equal(w.running.length, 3);
    assert.ok(!old.sent.some((m) => m.type === 'drain'), 'the old one serves while its successor boots');
    w.boot(successor);
    assert.ok(old.sent.some((m) => m.type === 'drain'));
    w.settle();
    assert.equal(w.master.stats.restarts.max_requests, 1);
    w.assertWhole(2);
  });

  test('max-requests reached before the successor is ready: the slot is not forked twice', () => {
    const w = started();
    const old = w.running[0]!;
    w.send(old, { type: 'draining', reason: 'max-requests' });
    assert.equal(w.running.length, 3);
    mock.timers.tick(HEALTH_CHECK_MS * 4);
    assert.equal(w.running.length, 3, 'the booting successor covers the slot');
    w.converge();
    w.assertWhole(2);
  });

  test('reload, batch 1: each old worker drains only after its successor is ready', async () => {
    const w = started({ workers: 3, reloadBatch: 1 });
    const olds = [...w.running];
    assert.equal(await w.master.reload(), null);
    assert.equal(w.running.length, 4, 'one successor at a time');
    for (let i = 0; i < 3; i += 1) {
      const successor = w.fakes.at(-1)!;
      const old = olds.find((o) => o.slot === successor.slot)!;
      assert.ok(!old.sent.some((m) => m.type === 'drain'));
      w.boot(successor);
      assert.ok(old.sent.some((m) => m.type === 'drain'));
      w.settle();
    }
    w.assertWhole(3);
    assert.deepEqual(w.notes, ['READY=1', 'RELOADING=1', 'READY=1']);
    assert.equal(w.events('reload-done').length, 1);
  });

  test('a reload whose new worker fails half way: the rest keep serving, the reload ends, and is not retried', async () => {
    const w = started({ workers: 3, reloadBatch: 1 });
    await w.master.reload();
    w.boot(w.fakes.at(-1)!);
    w.settle();
    const failing = w.fakes.at(-1)!;
    w.send(failing, { type: 'boot-failed', reason: 'SyntaxError' });
    w.exit(failing, 4);
    assert.equal(w.events('replace-failed').length, 1);
    assert.equal(w.master.snapshot().master.reloading, false);
    assert.deepEqual(w.notes, ['READY=1', 'RELOADING=1', 'READY=1']);
    const count = w.fakes.length;
    mock.timers.tick(HEALTH_CHECK_MS * 10);
    assert.equal(w.fakes.length, count, 'the failed reload is not started again by itself');
    const s = w.master.snapshot();
    assert.deepEqual(s.workers.map((x) => [x.id, x.state, x.generation]).sort(), [
      [0, 'ready', 1],
      [1, 'ready', 0],
      [2, 'ready', 0],
    ]);
    // The next reload does the whole job.
    await w.master.reload();
    w.converge();
    w.assertWhole(3);
  });
});

describe('health: a paused master does not murder its workers', () => {
  test('the master sleeps longer than --timeout: nobody is judged hung for time it did not watch', () => {
    const w = started({ timeout: 2 });
    mock.timers.tick(HEALTH_CHECK_MS);
    // Frozen: the clock runs, no timer fires, no beat is read.
    mock.timers.setTime(Date.now() + 4000);
    mock.timers.tick(HEALTH_CHECK_MS);
    assert.equal(w.events('worker-hung').length, 0);
    for (const f of w.running) w.send(f, heartbeat());
    mock.timers.tick(HEALTH_CHECK_MS * 4);
    assert.equal(w.events('worker-hung').length, 0);
    assert.deepEqual(
      w.running.map((f) => f.signals),
      [[], []],
    );
  });

  test('a worker that stays silent while the master is awake is still killed as hung, pause or not', () => {
    const w = started({ timeout: 2 });
    const [silent, beating] = w.running as [Fake, Fake];
    mock.timers.tick(1000);
    mock.timers.setTime(Date.now() + 4000);
    for (let t = 0; t < 3000; t += HEALTH_CHECK_MS) {
      w.send(beating, heartbeat());
      mock.timers.tick(HEALTH_CHECK_MS);
    }
    assert.deepEqual(
      w.events('worker-hung').map((l) => l.workerPid),
      [silent.pid],
    );
    assert.deepEqual(silent.signals, ['SIGKILL']);
    assert.deepEqual(beating.signals, []);
  });
});
