import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { app, request, sleep, startPrefork } from '../helpers/prefork.js';

/**
 * The longest --graceful-timeout the validator accepts (2147483 s, the most a Node timer holds)
 * must mean "wait": the master's backstop adds a second on top, which overflowed the timer, so
 * it fired at once and killed the draining worker with its request.
 */
test('--graceful-timeout 2147483: an in-flight request still finishes after TERM', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '2147483', app('pid.cjs')]);
  const target = await p.ready();
  const slow = request(target, { path: '/slow?ms=1500' }).then(
    (r) => r.status,
    (err: Error) => `cut: ${err.message}`,
  );
  await sleep(300);
  p.signal('SIGTERM');
  assert.equal(await slow, 200);
  const exit = await p.exited;
  assert.equal(exit.code, 0);
  assert.ok(!p.logs.some((l) => l.event === 'graceful-timeout'), 'the backstop fired');
  assert.ok(!p.stderr.includes('TimeoutOverflowWarning'), p.stderr);
});

test('--keep-alive-timeout 2147483: an idle keep-alive connection stays open, with no timer overflow', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--keep-alive-timeout', '2147483', app('pid.cjs')]);
  const target = await p.ready();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await request(target, { agent });
  await sleep(500);
  const second = await request(target, { agent });
  assert.equal(second.status, 200);
  assert.equal(first.json<{ pid: number }>().pid, second.json<{ pid: number }>().pid);
  const socket = Object.values(agent.freeSockets).flat()[0];
  assert.ok(socket !== undefined && !socket.destroyed, 'the kept-alive connection was closed');
  await p.stop();
  const output = p.stdout + p.stderr;
  assert.ok(!output.includes('TimeoutOverflowWarning'), output.slice(0, 2000));
});
