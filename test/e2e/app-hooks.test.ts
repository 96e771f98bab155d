import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, request, sleep, startPrefork, tempDir } from '../helpers/prefork.js';

// The app's lifecycle hooks: a shutdown() export awaited on drain, and an async --factory that
// holds the worker's readiness until it resolves.

const marks = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[0]!);

for (const spec of ['shutdown.mjs', 'shutdown.cjs']) {
  test(`shutdown() (${spec}) is awaited after the last request, before the worker exits`, async (t) => {
    const file = join(tempDir(t), 'marks');
    const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app(spec)], {
      env: { MARKS: file, SHUTDOWN_MS: '400' },
    });
    const target = await p.ready();
    const slow = request(target, { path: '/?ms=700' });
    await sleep(200);
    p.signal('SIGTERM');
    assert.equal((await slow).status, 200);
    assert.equal((await p.exited).code, 0);
    // Not before the request in flight finished, and awaited to its end (it takes 400 ms).
    assert.deepEqual(marks(file), ['response', 'shutdown-start', 'shutdown-end']);
    const order = p.logs.filter((l) => l.role === 'worker').map((l) => l.event);
    assert.ok(
      order.indexOf('app-shutdown-done') < order.indexOf('drained'),
      'the worker exits after shutdown() resolved',
    );
  });
}

test('shutdown() is bounded by --graceful-timeout: one that never ends does not hold the stop', async (t) => {
  const file = join(tempDir(t), 'marks');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '1', app('shutdown.mjs')], {
    env: { MARKS: file, SHUTDOWN_MS: '600000' },
  });
  await p.ready();
  const started = Date.now();
  p.signal('SIGTERM');
  assert.equal((await p.exited).code, 0);
  assert.ok(Date.now() - started < 5000, 'stopped at the graceful timeout');
  assert.deepEqual(marks(file), ['shutdown-start']);
  assert.ok(p.logs.some((l) => l.event === 'app-shutdown-timeout'));
});

test('a worker replaced by a reload (SIGHUP) calls shutdown() too', async (t) => {
  const file = join(tempDir(t), 'marks');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('shutdown.mjs')], {
    env: { MARKS: file, SHUTDOWN_MS: '10' },
  });
  await p.ready();
  const [old] = p.readyWorkers();
  p.signal('SIGHUP');
  await p.waitForLog((l) => l.event === 'worker' && l.state === 'exited' && l.workerPid === old);
  assert.deepEqual(readFileSync(file, 'utf8').trim().split('\n'), [`shutdown-start ${old}`, `shutdown-end ${old}`]);
});

test('an async --factory that takes ~1 s: the master counts the worker ready only once it resolved', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--factory', app('slow-factory.mjs')]);
  const target = await p.ready();
  assert.equal((await request(target)).json<{ shape: string }>().shape, 'slow-factory');
  const ready = p.logs.filter((l) => l.role === 'master' && l.event === 'worker' && l.state === 'ready');
  assert.equal(ready.length, 2);
  for (const worker of ready) {
    const resolved = p.logs.find(
      (l) => l.event === 'console' && l.msg === 'factory resolved' && l.pid === worker.workerPid,
    );
    assert.ok(resolved !== undefined, 'the factory resolved');
    assert.ok(p.logs.indexOf(resolved) < p.logs.indexOf(worker), 'ready is logged after the factory resolved');
    assert.ok(Number(worker.time) >= Number(resolved.time));
    const booting = p.logs.find(
      (l) => l.event === 'worker' && l.state === 'booting' && l.workerPid === worker.workerPid,
    );
    assert.ok(Number(worker.time) - Number(booting?.time) >= 1000, "booting lasted the factory's second");
  }
  const poolReady = p.logs.find((l) => l.event === 'ready')!;
  assert.ok(p.logs.indexOf(poolReady) > Math.max(...ready.map((r) => p.logs.indexOf(r))));
});
