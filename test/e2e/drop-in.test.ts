import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeCert } from '../helpers/certs.js';
import { app, distinctPids, request, runPrefork, sleep, startPrefork, tempDir } from '../helpers/prefork.js';

// Drop-in mode: apps that call listen() themselves, run unchanged.

interface Answer {
  pid: number;
  shape: string;
}

const workerLines = (logs: ReadonlyArray<Record<string, unknown>>, event: string): Array<Record<string, unknown>> =>
  logs.filter((l) => l.role === 'worker' && l.event === event);

test("Express's app.listen(3000), nothing exported: served on prefork's socket by 2 workers, redirect logged, the callback sees prefork's address", async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('dropin-express.cjs')]);
  const target = await p.ready();
  const reply = (await request(target)).json<Answer & { listenCallback: number }>();
  assert.equal(reply.shape, 'dropin-express');
  assert.equal(
    reply.listenCallback,
    target.port,
    "the app's own listen() callback ran, and address() gave prefork's port",
  );
  assert.equal((await distinctPids(target, 2)).size, 2);
  const redirected = workerLines(p.logs, 'listen-redirected');
  assert.equal(redirected.length, 2, 'one log line per worker');
  for (const line of redirected) {
    assert.equal(line.target, 'port 3000');
    assert.match(
      String(line.msg),
      new RegExp(`listen\\(port 3000\\) is served on http://127\\.0\\.0\\.1:${target.port}`),
    );
  }
  assert.equal(p.logs.filter((l) => l.event === 'bind-refused').length, 0, 'the master was never asked to bind');
});

test('http.createServer().listen() with no arguments, from ESM: served by 2 workers', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('dropin-http.mjs')]);
  const target = await p.ready();
  assert.equal((await request(target)).json<Answer>().shape, 'dropin-http');
  assert.equal((await distinctPids(target, 2)).size, 2);
  assert.equal(workerLines(p.logs, 'listen-redirected')[0]?.target, 'a random port');
});

test("listen(path) is redirected too, to every bind (TCP and unix); the app's path is never created", async (t) => {
  const dir = tempDir(t);
  const own = join(dir, 'app-wanted.sock');
  const sock = join(dir, 'prefork.sock');
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '-b', `unix:${sock}`, app('dropin-path.cjs')], {
    env: { APP_SOCKET: own },
  });
  const [tcp] = [await p.ready()];
  assert.equal((await request(tcp)).json<Answer>().shape, 'dropin-path');
  assert.equal((await request({ socketPath: sock })).json<Answer>().shape, 'dropin-path');
  assert.equal((await distinctPids({ socketPath: sock }, 2)).size, 2);
  assert.equal(existsSync(own), false);
  assert.equal(workerLines(p.logs, 'listen-redirected')[0]?.target, `path ${own}`);
  assert.ok(p.logs.some((l) => l.event === 'console' && l.msg === 'listening callback ran'));
});

test("`await fastify.listen({ port })` at the top level of an ES module: served by 2 workers, listen() resolves with prefork's address", async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('dropin-fastify.mjs')]);
  const target = await p.ready();
  const reply = (await request(target)).json<Answer & { address: { port: number } }>();
  assert.equal(reply.shape, 'dropin-fastify');
  assert.equal(reply.address.port, target.port);
  assert.equal((await distinctPids(target, 2)).size, 2);
  await p.waitForLog(
    (l) => l.event === 'console' && l.msg === `fastify listen() resolved with http://127.0.0.1:${target.port}`,
  );
});

test("drop-in on a unix socket: the app's server.address() is prefork's socket path (Fastify logs it)", async (t) => {
  const sock = join(tempDir(t), 'app.sock');
  const p = startPrefork(t, ['-w', '1', '-b', `unix:${sock}`, app('dropin-fastify.mjs')]);
  await p.ready();
  assert.equal((await request({ socketPath: sock })).json<Answer & { address: string }>().address, sock);
  await p.waitForLog((l) => l.event === 'console' && l.msg === `fastify listen() resolved with ${sock}`);
});

test('a listen() that comes after an asynchronous start-up is still served; the worker is ready only then', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('dropin-late.cjs')], {
    env: { LISTEN_AFTER_MS: '700' },
  });
  const target = await p.ready();
  assert.equal((await request(target)).json<Answer>().shape, 'dropin-late');
  for (const worker of p.logs.filter((l) => l.role === 'master' && l.event === 'worker' && l.state === 'ready')) {
    const redirected = p.logs.find((l) => l.event === 'listen-redirected' && l.pid === worker.workerPid);
    assert.ok(redirected !== undefined && Number(redirected.time) <= Number(worker.time), 'ready after the redirect');
    const booting = p.logs.find(
      (l) => l.event === 'worker' && l.state === 'booting' && l.workerPid === worker.workerPid,
    );
    assert.ok(Number(worker.time) - Number(booting?.time) >= 600, 'not ready before the app listened');
  }
});

test('a listen() later than --boot-timeout: exit 4 at start with one line', async (t) => {
  const dir = tempDir(t);
  const r = await runPrefork(
    t,
    ['-w', '2', '-b', `unix:${join(dir, 'app.sock')}`, '--boot-timeout', '1', app('dropin-late.cjs')],
    { env: { LISTEN_AFTER_MS: '5000' } },
  );
  assert.equal(r.code, 4, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0]!,
    /^prefork: app .*dropin-late\.cjs exports an object with keys \[server, note\] and called no listen\(\) within --boot-timeout 1 s/,
  );
});

test('module.exports = app plus app.listen(3000): the export is served, the listen() is a logged no-op whose callback runs and which emits listening', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('export-and-listen.cjs')]);
  const target = await p.ready();
  const reply = (await request(target)).json<Answer & { callbackRan: boolean; listeningEmitted: boolean }>();
  assert.equal(reply.shape, 'export-and-listen');
  assert.equal(reply.callbackRan, true);
  assert.equal(reply.listeningEmitted, true);
  assert.equal((await distinctPids(target, 2)).size, 2);
  const ignored = workerLines(p.logs, 'listen-ignored');
  assert.equal(ignored.length, 2);
  assert.match(String(ignored[0]?.msg), /listen\(port 3000\) is a no-op: prefork serves its export/);
  assert.equal(workerLines(p.logs, 'listen-redirected').length, 0);
  // The callback's address() names where prefork serves.
  assert.ok(
    p.logs.some((l) => l.event === 'console' && String(l.msg).includes(`"port":${target.port}`)),
    'address() in the callback',
  );
});

test('a second listen() gets a clear error; one with exclusive: true binds in the worker itself; the master binds nothing', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('dropin-admin.cjs')]);
  const target = await p.ready();
  let reply = (await request(target)).json<
    Answer & { adminError: { code: string; message: string } | null; metricsPort: number | null }
  >();
  for (let i = 0; i < 40 && reply.metricsPort === null; i += 1) {
    await sleep(25);
    reply = (await request(target)).json();
  }
  assert.equal(reply.adminError?.code, 'ERR_PREFORK_LISTEN');
  assert.match(reply.adminError?.message ?? '', /listen\(port 3001\) refused: .*exclusive: true/);
  assert.ok(workerLines(p.logs, 'listen-refused').some((l) => l.target === 'port 3001'));
  // The exclusive one is the worker's own socket: it answers, from the same process.
  const metrics = (await request({ host: '127.0.0.1', port: reply.metricsPort! })).json<{
    pid: number;
    metrics: boolean;
  }>();
  assert.deepEqual(metrics, { pid: reply.pid, metrics: true });
  assert.equal(p.logs.filter((l) => l.event === 'bind-refused').length, 0);
});

test('drop-in apps get the worker features: access log, and a drain that finishes the request in flight', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--access-log', app('dropin-express.cjs')]);
  const target = await p.ready();
  const slow = request(target, { path: '/slow?ms=800' });
  await p.waitForLog((l) => l.event === 'worker' && l.state === 'ready');
  await sleep(200);
  p.signal('SIGTERM');
  const reply = await slow;
  assert.equal(reply.status, 200);
  assert.equal(reply.headers.connection, 'close', 'told to take its next request elsewhere');
  assert.equal((await p.exited).code, 0);
  assert.ok(
    p.logs.some((l) => l.event === 'access' && l.path === '/slow?ms=800' && l.status === 200),
    'access log line',
  );
});

test('drop-in mode with --certfile: exit 4, one line saying to export the app', async (t) => {
  const dir = tempDir(t);
  const { cert, key } = makeCert(dir, 'c');
  const r = await runPrefork(t, [
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--certfile',
    cert,
    '--keyfile',
    key,
    app('dropin-http.mjs'),
  ]);
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(
    r.stderr,
    /^prefork: app .*dropin-http\.mjs serves itself with listen\(a random port\) \(drop-in mode\), and prefork cannot add --certfile's HTTPS .*export the app/,
  );
});
