import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  type Prefork,
  ROOT,
  type Target,
  app,
  request,
  runPrefork,
  sleep,
  startPrefork,
  tempDir,
} from '../helpers/prefork.js';
import { WORKER_ID_APP, freeBase, sock, who } from '../helpers/per-worker.js';

// Per-worker binds ({worker}): start-up, serving, replacements, stop. Scaling, hot upgrade and
// status are in per-worker-sockets-scale.test.ts.

/** The master's own view of a worker's pid, by its exited/ready lines. */
const exitedPid = (p: Prefork, pid: number): Promise<unknown> =>
  p.waitForEvent('worker', (l) => l.workerPid === pid && l.state === 'exited');

test('each slot serves its own socket (PREFORK_WORKER_ID), a shared bind beside them serves every worker, --socket-mode applies, stop removes them all', async (t) => {
  const dir = tempDir(t);
  const p = startPrefork(t, [
    '-w',
    '2',
    '-b',
    `unix:${dir}/web-{worker}.sock`,
    '-b',
    `unix:${dir}/shared.sock`,
    '--socket-mode',
    '0600',
    WORKER_ID_APP,
  ]);
  await p.ready();
  const pids = new Map<string, Set<number>>();
  for (let i = 0; i < 6; i += 1) {
    for (const slot of [0, 1]) {
      const w = await who(sock(dir, slot));
      assert.equal(w.worker, String(slot), `web-${slot}.sock is served by worker ${slot} only`);
      pids.set(w.worker, new Set([...(pids.get(w.worker) ?? []), w.pid]));
    }
  }
  assert.deepEqual(
    [...pids.values()].map((s) => s.size),
    [1, 1],
    'one process per slot',
  );
  const shared = new Set<string>();
  for (let i = 0; i < 40 && shared.size < 2; i += 1)
    shared.add((await who({ socketPath: `${dir}/shared.sock` })).worker);
  assert.deepEqual([...shared].sort(), ['0', '1'], 'the shared socket reaches both workers');
  for (const name of ['web-0.sock', 'web-1.sock', 'shared.sock']) {
    assert.ok(lstatSync(join(dir, name)).isSocket());
    assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600, `${name} has --socket-mode`);
  }
  const listening = p.logs.filter((l) => l.event === 'listening' && l.worker !== undefined);
  assert.deepEqual(
    listening.map((l) => [l.worker, l.address]),
    [
      [0, `unix:${dir}/web-0.sock`],
      [1, `unix:${dir}/web-1.sock`],
    ],
  );
  assert.equal((await p.stop()).code, 0);
  assert.deepEqual(readdirSync(dir), [], 'every socket file prefork created is gone');
});

test('TCP HOST:{BASE+worker}: worker i listens on BASE+i', async (t) => {
  const base = await freeBase(2);
  const p = startPrefork(t, ['-w', '2', '-b', `127.0.0.1:{${base}+worker}`, WORKER_ID_APP]);
  await p.ready();
  for (const slot of [0, 1]) assert.equal((await who({ host: '127.0.0.1', port: base + slot })).worker, String(slot));
  assert.equal((await p.stop()).code, 0);
});

test("a slot's socket outlives its worker: a connection made while worker 1 is down (kill -9) waits and is served by its successor", async (t) => {
  const dir = tempDir(t);
  const p = startPrefork(t, ['-w', '2', '-b', `unix:${dir}/web-{worker}.sock`, WORKER_ID_APP]);
  await p.ready();
  const inode = lstatSync(join(dir, 'web-1.sock')).ino;
  for (const round of [1, 2]) {
    const before = await who(sock(dir, 1));
    process.kill(before.pid, 'SIGKILL');
    await exitedPid(p, before.pid);
    // No worker of slot 1 is left: the connection waits in the backlog of the master's socket.
    const after = await who(sock(dir, 1));
    assert.equal(after.worker, '1', `round ${round}`);
    assert.notEqual(after.pid, before.pid, `round ${round}: served by the successor`);
  }
  assert.equal(lstatSync(join(dir, 'web-1.sock')).ino, inode, 'the same socket file throughout');
  assert.equal((await who(sock(dir, 0))).worker, '0');
  assert.equal((await p.stop()).code, 0);
});

test('unix:@NAME-{worker}: each slot serves its own abstract socket, a successor after kill -9 serves the same name, and a stop frees every name', async (t) => {
  const name = `prefork-e2e-${process.pid}-${Date.now()}`;
  const abstract = (slot: number): Target => ({ socketPath: `\0${name}-${slot}` });
  if (Number(process.versions.node.split('.')[0]) < 22) {
    const r = await runPrefork(t, ['-w', '2', '-b', `unix:@${name}-{worker}`, WORKER_ID_APP]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`^prefork: cannot serve unix:@${name}-0 on Node v20.*pads abstract socket names`),
    );
    return;
  }
  const p = startPrefork(t, ['-w', '2', '-b', `unix:@${name}-{worker}`, WORKER_ID_APP]);
  await p.ready();
  for (const slot of [0, 1]) assert.equal((await who(abstract(slot))).worker, String(slot));
  const before = await who(abstract(1));
  process.kill(before.pid, 'SIGKILL');
  await exitedPid(p, before.pid);
  const after = await who(abstract(1));
  assert.deepEqual([after.worker, after.pid !== before.pid], ['1', true], 'served by the successor on the same name');
  assert.equal((await p.stop()).code, 0);
  for (const slot of [0, 1])
    await assert.rejects(request(abstract(slot)), /ECONNREFUSED|ENOENT/, `@${name}-${slot} is free`);
});

test('--max-requests and SIGHUP replace each worker on its own socket', async (t) => {
  const dir = tempDir(t);
  const p = startPrefork(t, ['-w', '2', '-b', `unix:${dir}/web-{worker}.sock`, '--max-requests', '4', WORKER_ID_APP]);
  await p.ready();
  const seen = new Set<number>();
  for (let i = 0; i < 12; i += 1) {
    const w = await who(sock(dir, 0));
    assert.equal(w.worker, '0', `request ${i}`);
    seen.add(w.pid);
  }
  assert.ok(seen.size >= 2, `slot 0 was recycled at --max-requests (pids ${[...seen].join(', ')})`);
  const old = await who(sock(dir, 1));
  p.signal('SIGHUP');
  await p.waitForEvent('reload-done', () => true, 20_000);
  const fresh = await who(sock(dir, 1));
  assert.equal(fresh.worker, '1');
  assert.notEqual(fresh.pid, old.pid, 'a new worker serves slot 1 after the reload');
  assert.equal((await who(sock(dir, 0))).worker, '0');
  assert.equal((await p.stop()).code, 0);
});

test('a foreign file at a per-worker path: exit 3, the file untouched, nothing left behind', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'web-1.sock'), 'precious data');
  const r = await runPrefork(t, ['-w', '2', '-b', `unix:${dir}/web-{worker}.sock`, WORKER_ID_APP]);
  assert.equal(r.code, 3);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`${dir}/web-1.sock.*a regular file; refusing to replace it`));
  assert.equal(readFileSync(join(dir, 'web-1.sock'), 'utf8'), 'precious data');
  assert.deepEqual(readdirSync(dir), ['web-1.sock'], 'web-0.sock, bound first, was removed');
  assert.equal(existsSync(join(dir, 'web-0.sock')), false);
});

test('env PREFORK_BIND and a config file take per-worker binds; --check-config refuses a collision as a start does', async (t) => {
  const dir = tempDir(t);
  const p = startPrefork(t, ['-w', '2', WORKER_ID_APP], { env: { PREFORK_BIND: `unix:${dir}/web-{worker}.sock` } });
  await p.ready();
  assert.equal((await who(sock(dir, 1))).worker, '1');
  assert.equal((await p.stop()).code, 0);

  const config = join(dir, 'prefork.json');
  writeFileSync(config, JSON.stringify({ bind: [`unix:${dir}/w-{worker}.sock`, '[::1]:{9000+worker}'], workers: 3 }));
  const checked = await runPrefork(t, ['--check-config', '--config', config, WORKER_ID_APP]);
  assert.equal(checked.code, 0, checked.stderr);
  const printed = JSON.parse(checked.stdout) as { bind: string[] };
  assert.deepEqual(printed.bind, [`unix:${dir}/w-{worker}.sock`, '[::1]:{9000+worker}']);

  const clash = ['-w', '3', '-b', '127.0.0.1:{9100+worker}', '-b', '127.0.0.1:9102', WORKER_ID_APP];
  const check = await runPrefork(t, ['--check-config', ...clash]);
  const start = await runPrefork(t, clash);
  assert.equal(check.code, 2);
  assert.equal(start.code, 2);
  assert.equal(check.stderr, start.stderr);
  assert.match(
    check.stderr,
    /--bind 127.0.0.1:9102 is the same address as --bind 127.0.0.1:\{9100\+worker\} \(worker 2/,
  );
  assert.deepEqual(readdirSync(dir), ['prefork.json']);
});

test("a hung worker (--timeout) is killed and replaced on its slot's socket; a request sent meanwhile is served by the successor", async (t) => {
  const dir = tempDir(t);
  const p = startPrefork(t, ['-w', '2', '-b', `unix:${dir}/web-{worker}.sock`, '--timeout', '1', app('pid.cjs')]);
  await p.ready();
  const hung = await who(sock(dir, 1));
  void request(sock(dir, 1), { path: '/spin', timeoutMs: 20_000 }).catch(() => {});
  await sleep(100);
  // Sent while slot 1's worker spins: it waits in the backlog until the successor accepts it.
  const after = await request(sock(dir, 1), { timeoutMs: 20_000 });
  assert.equal(after.status, 200);
  const served = after.json<{ worker: string; pid: number }>();
  assert.equal(served.worker, '1');
  assert.notEqual(served.pid, hung.pid);
  assert.ok(
    p.logs.some((l) => l.event === 'worker-hung' && l.workerPid === hung.pid),
    'the hung worker was killed',
  );
  assert.equal((await p.stop()).code, 0);
});

test('serve({ bind }) takes a per-worker bind: ready lists every socket, each slot answers on its own, stop() removes them', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules/prefork'));
  writeFileSync(
    join(dir, 'main.mjs'),
    `
import http from 'node:http';
import { existsSync } from 'node:fs';
import { serve } from 'prefork';
const get = (socketPath) => new Promise((resolve, reject) => http.get({ socketPath, path: '/', agent: false }, (res) => {
  let body = '';
  res.on('data', (c) => (body += c)).on('end', () => resolve(JSON.parse(body).worker));
}).on('error', reject));
const sock = (i) => ${JSON.stringify(dir)} + '/web-' + i + '.sock';
const server = serve({ app: ${JSON.stringify(WORKER_ID_APP)}, workers: 2, bind: [${JSON.stringify(`unix:${dir}/web-{worker}.sock`)}], logLevel: 'warn' });
const addresses = await server.ready;
const answers = [await get(sock(0)), await get(sock(1))];
const code = await server.stop();
console.log(JSON.stringify({ addresses, answers, code, left: [0, 1].filter((i) => existsSync(sock(i))) }));
`,
  );
  const { stdout } = await promisify(execFile)(process.execPath, ['main.mjs'], { cwd: dir, timeout: 30_000 });
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), {
    addresses: [`unix:${dir}/web-0.sock`, `unix:${dir}/web-1.sock`],
    answers: ['0', '1'],
    code: 0,
    left: [],
  });
});
