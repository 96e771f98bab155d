import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  app,
  eventually,
  isAlive,
  load,
  maxBootingAfterStart,
  minReadyAfterStart,
  request,
  runPrefork,
  sleep,
  startPrefork,
  tempDir,
} from '../helpers/prefork.js';

const versionApp = (version: string): string =>
  `module.exports = (req, res) => res.end(JSON.stringify({ pid: process.pid, version: ${JSON.stringify(version)}, cwd: process.cwd() }));\n`;

test('--max-requests 50 with jitter 10: 2,000 keep-alive requests, none failed, the limit kept', async (t) => {
  const p = startPrefork(t, [
    '-w',
    '2',
    '-b',
    '127.0.0.1:0',
    '--max-requests',
    '50',
    '--max-requests-jitter',
    '10',
    app('pid.cjs'),
  ]);
  const target = await p.ready();
  const r = await load(target, { total: 2000, concurrency: 8 });
  assert.equal(r.failed, 0, `failures: ${JSON.stringify([...r.failures])}`);
  assert.equal(r.ok, 2000);
  assert.ok(r.pids.size > 20, `only ${r.pids.size} distinct workers served`);
  // The limit is a promise: past it a worker only answers requests already on its connections.
  const most = Math.max(...r.pids.values());
  assert.ok(most <= 60 + 8, `a worker served ${most} requests`);
  assert.ok(p.logs.some((l) => l.event === 'worker' && l.state === 'draining' && l.reason === 'max-requests'));
});

test('SIGHUP under load: 0 failed requests, every worker replaced, never fewer than --workers ready', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  const before = new Set(p.readyWorkers());
  const reloaded = p.waitForEvent('reload-done', () => true, 20_000);
  const running = load(target, { until: reloaded.then(() => sleep(300)), concurrency: 8 });
  await sleep(300);
  p.signal('SIGHUP');
  await reloaded;
  const r = await running;
  assert.equal(r.failed, 0, `failures: ${JSON.stringify([...r.failures])}`);
  assert.ok(r.ok > 100, `only ${r.ok} requests during the reload`);
  const after = p.readyWorkers();
  assert.equal(after.length, 2);
  for (const pid of after) assert.ok(!before.has(pid), `worker ${pid} survived the reload`);
  for (const pid of before) await eventually(() => !isAlive(pid), 5000, `old worker ${pid} to exit`);
  assert.ok(minReadyAfterStart(p.logs) >= 2, 'capacity dipped below --workers during the reload');
  assert.equal(maxBootingAfterStart(p.logs), 1, 'default --reload-batch 1: one replacement at a time');
});

test('--reload-batch 2 replaces two workers at a time', async (t) => {
  const p = startPrefork(t, ['-w', '4', '-b', '127.0.0.1:0', '--reload-batch', '2', app('pid.cjs')]);
  await p.ready();
  p.signal('SIGHUP');
  await p.waitForEvent('reload-done', () => true, 20_000);
  assert.equal(maxBootingAfterStart(p.logs), 2);
  assert.ok(minReadyAfterStart(p.logs) >= 4);
  await eventually(() => p.workerEvents('exited').length === 4, 5000, 'the 4 old workers to exit');
});

test('a bad deploy (the app throws at import) on SIGHUP: the old workers keep serving, 0 failed', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'app.cjs');
  copyFileSync(app('pid.cjs'), file);
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', file]);
  const target = await p.ready();
  const before = p.readyWorkers().sort();
  writeFileSync(file, "throw new Error('bad deploy');\n");
  const failed = p.waitForEvent('replace-failed');
  const running = load(target, { until: failed.then(() => sleep(300)), concurrency: 4 });
  p.signal('SIGHUP');
  const line = await failed;
  assert.match(String(line.why), /bad deploy/);
  const r = await running;
  assert.equal(r.failed, 0);
  assert.deepEqual(p.readyWorkers().sort(), before);
  assert.equal((await request(target)).status, 200);
});

test('SIGHUP rereads the config file: workers and log level change, a new bind is logged as ignored', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'prefork.json');
  writeFileSync(config, JSON.stringify({ workers: 1, bind: '127.0.0.1:0' }));
  const p = startPrefork(t, ['--config', config, app('pid.cjs')]);
  await p.ready();
  writeFileSync(config, JSON.stringify({ workers: 3, bind: 'unix:/tmp/never.sock', logLevel: 'debug' }));
  p.signal('SIGHUP');
  const ignored = await p.waitForEvent('reload-ignored');
  assert.deepEqual(ignored.options, ['bind']);
  await p.waitForEvent('reload-done', () => true, 20_000);
  assert.equal(p.readyWorkers().length, 3);
  assert.equal((await request(p.targets()[0]!)).status, 200);
});

test('a symlink deploy (current -> releases/N) plus SIGHUP serves the new release', async (t) => {
  const dir = tempDir(t);
  for (const v of ['1', '2']) {
    mkdirSync(join(dir, 'releases', v), { recursive: true });
    writeFileSync(join(dir, 'releases', v, 'app.cjs'), versionApp(v));
  }
  const current = join(dir, 'current');
  symlinkSync(join(dir, 'releases', '1'), current);
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', 'app.cjs'], { cwd: current, env: { PWD: current } });
  const target = await p.ready();
  assert.equal((await request(target)).json<{ version: string }>().version, '1');
  // Swap the link atomically, as deploy tools do.
  symlinkSync(join(dir, 'releases', '2'), join(dir, 'current.new'));
  renameSync(join(dir, 'current.new'), current);
  p.signal('SIGHUP');
  await p.waitForEvent('reload-done', () => true, 20_000);
  const body = (await request(target)).json<{ version: string; cwd: string }>();
  assert.equal(body.version, '2');
  assert.equal(body.cwd, join(dir, 'releases', '2'), "the workers' working directory follows the link");
});

test('--timeout 2: a worker whose event loop is blocked is killed within 3 s and replaced', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--timeout', '2', app('pid.cjs')]);
  const target = await p.ready();
  const spun = request(target, { path: '/spin', timeoutMs: 15_000 }).catch(() => 'cut');
  const start = Date.now();
  const hung = await p.waitForEvent('worker-hung', () => true, 10_000);
  assert.ok(Date.now() - start <= 3000 + 300, `detected after ${Date.now() - start} ms`);
  assert.equal(await spun, 'cut');
  await p.waitForLog(
    (l) => l.event === 'worker' && l.state === 'ready' && l.worker === hung.worker && l.workerPid !== hung.workerPid,
  );
  const exited = p.logs.find((l) => l.event === 'worker' && l.state === 'exited' && l.workerPid === hung.workerPid);
  assert.match(String(exited?.reason), /hung.*SIGKILL/);
  assert.equal((await request(target)).status, 200);
});

test('--max-memory: a bloated worker is recycled gracefully, surge first', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--max-memory', '120', app('pid.cjs')]);
  const target = await p.ready();
  const [bloated] = p.readyWorkers();
  const leak = await request(target, { path: '/leak?mb=200' });
  assert.equal(leak.json<{ pid: number }>().pid, bloated);
  const running = load(target, {
    until: p.waitForLog((l) => l.event === 'worker' && l.state === 'exited' && l.workerPid === bloated, 15_000),
    concurrency: 4,
  });
  await p.waitForEvent('worker-bloated', () => true, 15_000);
  const r = await running;
  assert.equal(r.failed, 0);
  const drained = p.logs.find((l) => l.event === 'worker' && l.state === 'draining' && l.workerPid === bloated);
  assert.match(String(drained?.reason), /max-memory/);
  assert.ok(minReadyAfterStart(p.logs) >= 1, 'the pool was empty while the bloated worker was replaced');
});

test('crash loop: repeated early deaths back off exponentially; a fixed app serves again', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'app.cjs');
  copyFileSync(app('pid.cjs'), file);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', file]);
  const target = await p.ready();
  writeFileSync(file, 'process.exit(3);\n');
  process.kill(p.readyWorkers()[0]!, 'SIGKILL');
  await p.waitForLog((l) => l.event === 'backoff' && Number(l.delayMs) >= 400, 10_000);
  const delays = p.logs.filter((l) => l.event === 'backoff').map((l) => Number(l.delayMs));
  assert.deepEqual(delays.slice(0, 3), [100, 200, 400]);
  const mark = p.logs.length;
  copyFileSync(app('pid.cjs'), file);
  await p.waitForLog(
    (l) => p.logs.indexOf(l) >= mark && l.event === 'worker' && l.state === 'ready',
    10_000,
    'a worker of the fixed app',
  );
  assert.equal((await request(target)).status, 200);
});

test('--boot-timeout: an app that never gets ready fails the start with exit 4', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'never.mjs');
  writeFileSync(file, 'export default () => new Promise(() => {});\n');
  const r = await runPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--factory', '--boot-timeout', '1', file]);
  assert.equal(r.code, 4);
  assert.match(r.stderr.trim(), /not ready within --boot-timeout 1 s/);
});

test('SIGTTIN adds a worker, SIGTTOU drains one, never below 1', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
  await p.ready();
  p.signal('SIGTTIN');
  await eventually(() => p.readyWorkers().length === 3, 5000, '3 workers');
  assert.ok(p.logs.some((l) => l.event === 'worker' && l.worker === 2 && l.state === 'ready'));
  for (let i = 0; i < 3; i += 1) {
    p.signal('SIGTTOU');
    await sleep(300);
  }
  await eventually(() => p.readyWorkers().length === 1, 5000, '1 worker');
  const drained = p.logs.filter((l) => l.event === 'worker' && l.state === 'draining');
  assert.equal(drained.length, 2);
  for (const d of drained) assert.equal(d.reason, 'scaled down');
  await sleep(300);
  assert.equal(p.readyWorkers().length, 1);
  assert.equal((await request(p.targets()[0]!)).status, 200);
});

test('--limit-concurrency 2: of 8 concurrent slow requests exactly 2 are served, 6 get 503 + Retry-After', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--limit-concurrency', '2', app('pid.cjs')]);
  const target = await p.ready();
  const agent = new http.Agent({ keepAlive: false, maxSockets: 16 });
  const first = [0, 1].map(() => request(target, { path: '/slow?ms=800', agent }));
  await sleep(200);
  const rest = Array.from({ length: 6 }, () => request(target, { path: '/slow?ms=800', agent }));
  const replies = await Promise.all([...first, ...rest]);
  assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 503, 503, 503, 503, 503, 503]);
  for (const r of replies.filter((x) => x.status === 503)) assert.equal(r.headers['retry-after'], '1');
});
