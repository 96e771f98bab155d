import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, eventually, isAlive, request, sleep, startPrefork, tempDir } from '../helpers/prefork.js';

const refused = (port: number): Promise<boolean> =>
  new Promise((done) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), done(false)));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal}: in-flight requests finish with Connection: close, then exit 0 and the socket file goes`, async (t) => {
    const sock = join(tempDir(t), 'app.sock');
    const p = startPrefork(t, ['-w', '2', '-b', `unix:${sock}`, '-b', '127.0.0.1:0', app('pid.cjs')]);
    await p.ready();
    const tcp = p.targets()[1]!;
    const slow = request({ socketPath: sock }, { path: '/slow?ms=800', agent: new http.Agent({ keepAlive: true }) });
    await sleep(150);
    p.signal(signal);
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.connection, 'close');
    const exit = await p.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(existsSync(sock), false);
    assert.equal(await refused(tcp.port!), true, 'nothing accepts after the stop');
  });
}

test('an idle keep-alive connection is not cut before --keep-alive-timeout; its next request is answered', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--keep-alive-timeout', '3', app('pid.cjs')]);
  const target = await p.ready();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await request(target, { agent });
  assert.equal(first.headers.connection, 'keep-alive');
  p.signal('SIGTERM');
  await p.waitForEvent('stopping');
  await sleep(1000);
  // The connection is idle but open: the client's next request on it must not meet a reset.
  const second = await request(target, { agent });
  assert.equal(second.status, 200);
  assert.equal(second.json<{ pid: number }>().pid, first.json<{ pid: number }>().pid, 'same worker, same connection');
  assert.equal(second.headers.connection, 'close');
  assert.equal((await p.exited).code, 0);
});

for (const [name, signals] of [
  ['a second SIGTERM', ['SIGTERM', 'SIGTERM']],
  ['SIGQUIT', ['SIGQUIT']],
] as const) {
  test(`${name} stops at once: busy workers killed, socket file removed, exit 0`, async (t) => {
    const sock = join(tempDir(t), 'app.sock');
    const p = startPrefork(t, ['-w', '2', '-b', `unix:${sock}`, app('pid.cjs')]);
    await p.ready();
    const workers = p.readyWorkers();
    const slow = request({ socketPath: sock }, { path: '/slow?ms=30000' }).then(
      () => 'answered',
      () => 'cut',
    );
    await sleep(150);
    const started = Date.now();
    for (const sig of signals) {
      p.signal(sig);
      await p.waitForEvent('stopping');
    }
    const exit = await p.exited;
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - started < 5000, 'stopped without waiting for the slow request');
    assert.equal(await slow, 'cut');
    assert.equal(existsSync(sock), false);
    for (const pid of workers) await eventually(() => !isAlive(pid), 2000, `worker ${pid} to be gone`);
  });
}

test('--graceful-timeout: a worker still busy is killed and the master exits 0', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '1', app('pid.cjs')]);
  const target = await p.ready();
  const slow = request(target, { path: '/slow?ms=30000' }).then(
    () => 'answered',
    () => 'cut',
  );
  await sleep(150);
  const started = Date.now();
  p.signal('SIGTERM');
  const exit = await p.exited;
  const took = Date.now() - started;
  assert.equal(exit.code, 0);
  assert.ok(took >= 900 && took < 5000, `stop took ${took} ms`);
  assert.equal(await slow, 'cut');
});

test('a worker sent SIGTERM directly drains its requests and is replaced', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  const [worker] = p.readyWorkers();
  const slow = request(target, { path: '/slow?ms=600' });
  await sleep(150);
  process.kill(worker!, 'SIGTERM');
  assert.equal((await slow).status, 200);
  await p.waitForLog((l) => l.event === 'worker' && l.state === 'ready' && l.workerPid !== worker);
  assert.equal((await request(target)).status, 200);
});

test('master SIGKILL: workers finish in-flight requests, stop accepting, and exit (no orphans)', async (t) => {
  const dir = tempDir(t);
  const sock = join(dir, 'app.sock');
  const p = startPrefork(t, ['-w', '2', '-b', `unix:${sock}`, app('pid.cjs')]);
  await p.ready();
  const workers = p.readyWorkers();
  const slow = request({ socketPath: sock }, { path: '/slow?ms=1500' });
  await sleep(200);
  const killedAt = Date.now();
  p.signal('SIGKILL');
  // Every worker that has nothing in flight must be gone within 1 s, while the busy one finishes.
  const idleGone = Promise.all(
    workers.map(async (pid) => {
      await eventually(() => !isAlive(pid), 3000, `worker ${pid} to exit`);
      return { pid, after: Date.now() - killedAt };
    }),
  );
  const reply = await slow;
  assert.equal(reply.status, 200, 'the in-flight request finished');
  const busy = reply.json<{ pid: number }>().pid;
  const exits = await idleGone;
  const idle = exits.find((e) => e.pid !== busy)!;
  assert.ok(idle.after < 1000, `the idle worker left after ${idle.after} ms`);
  assert.ok(exits.find((e) => e.pid === busy)!.after >= 1000, 'the busy worker stayed for its request');

  // The file a SIGKILLed master leaves is stale: the next start takes it over.
  assert.ok(existsSync(sock));
  const next = startPrefork(t, ['-w', '1', '-b', `unix:${sock}`, app('pid.cjs')]);
  await next.ready();
  await next.waitForEvent('stale-socket-removed');
  assert.equal((await request({ socketPath: sock })).status, 200);
});

test('a TERM that arrives while prefork is still starting is not lost: it stops cleanly once up', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'slow.mjs');
  // A config file that takes a second to load holds prefork in start-up, before its signal table.
  writeFileSync(
    config,
    "export default async () => { await new Promise((r) => setTimeout(r, 1000)); return { workers: 1, bind: '127.0.0.1:0' }; };\n",
  );
  const p = startPrefork(t, ['--config', config, app('pid.cjs')]);
  await sleep(500);
  p.signal('SIGTERM');
  const exit = await p.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, p.stderr);
  assert.ok(p.logs.some((l) => l.event === 'stopping'));
  assert.ok(p.logs.some((l) => l.event === 'stopped'));
  for (const w of p.logs.filter((l) => l.event === 'worker')) assert.ok(!isAlive(Number(w.workerPid)));
});
