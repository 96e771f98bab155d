import assert from 'node:assert/strict';
import { test } from 'node:test';
import { app, request, sleep, startPrefork } from '../helpers/prefork.js';

test('--shutdown-delay 1: new connections 0.5 s after SIGTERM are served; then the drain runs and the master exits 0', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--shutdown-delay', '1', app('pid.cjs')]);
  const target = await p.ready();
  const workers = p.readyWorkers();
  p.signal('SIGTERM');
  const stopping = await p.waitForEvent('stopping');
  assert.equal(stopping.delay, 1);
  await sleep(500);
  const replies = await Promise.all([0, 1, 2, 3].map(() => request(target, { headers: { connection: 'close' } })));
  for (const reply of replies) {
    assert.equal(reply.status, 200);
    assert.ok(workers.includes(reply.json<{ pid: number }>().pid));
  }
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  const over = p.logs.find((l) => l.event === 'shutdown-delay-over');
  assert.ok(over !== undefined, 'the drain start is logged');
  assert.ok(
    Number(over.time) - Number(stopping.time) >= 990,
    `the drain began ${Number(over.time) - Number(stopping.time)} ms after TERM`,
  );
  assert.ok(
    p.workerEvents('draining').every((l) => Number(l.time) >= Number(over.time)),
    'no worker drained during the delay',
  );
});

test('--shutdown-delay: workers signalled together with the master (Ctrl-C, systemd KillMode) keep serving for the delay too', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--shutdown-delay', '1', app('pid.cjs')]);
  const target = await p.ready();
  const workers = p.readyWorkers();
  p.signal('SIGTERM');
  for (const pid of workers) process.kill(pid, 'SIGTERM');
  await p.waitForEvent('stopping');
  await sleep(500);
  const replies = await Promise.all([0, 1, 2, 3].map(() => request(target, { headers: { connection: 'close' } })));
  for (const reply of replies) assert.equal(reply.status, 200);
  assert.deepEqual(await p.exited, { code: 0, signal: null });
});

test('a second SIGTERM during --shutdown-delay stops at once', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--shutdown-delay', '30', app('pid.cjs')]);
  await p.ready();
  const started = Date.now();
  p.signal('SIGTERM');
  await p.waitForEvent('stopping');
  p.signal('SIGTERM');
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  assert.ok(Date.now() - started < 10_000, 'did not wait for the 30 s delay');
  assert.ok(p.logs.some((l) => l.event === 'stopping' && l.mode === 'immediate'));
});
