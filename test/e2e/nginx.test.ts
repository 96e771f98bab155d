import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PER_WORKER_EXAMPLE, nginxTest, startNginx } from '../helpers/nginx.js';
import { freeBase } from '../helpers/per-worker.js';
import {
  type Prefork,
  ROOT,
  type Target,
  app,
  eventually,
  load,
  request,
  startPrefork,
  tempDir,
} from '../helpers/prefork.js';

// A real nginx (Debian's) in front of prefork's per-worker sockets (`-b unix:DIR/web-{worker}.sock`),
// configured by examples/nginx-per-worker.conf with only the sockets, the port and nginx's own
// paths swapped in. Location / is the least_conn upstream, /socket.io/ the sticky one
// (hash $remote_addr consistent); the clients vary their source address over 127.0.0.0/8, so the
// shipped hash line is what is tested.

interface Who {
  pid: number;
  worker: string;
}

/** prefork -w N with one socket per worker slot; the upstream server addresses, slot by slot. */
function perWorker(t: TestContext, workers: number): { p: Prefork; sockets: string[] } {
  const dir = tempDir(t, 'prefork-nginx-');
  const p = startPrefork(t, ['-w', String(workers), '-b', `unix:${join(dir, 'web-{worker}.sock')}`, app('pid.cjs')]);
  return { p, sockets: Array.from({ length: workers }, (_, i) => `unix:${join(dir, `web-${i}.sock`)}`) };
}

/** A request from a given loopback source address, on a new connection: nginx's $remote_addr. */
async function from(target: Target, address: string, path: string): Promise<Who> {
  const agent = new http.Agent({ localAddress: address } as http.AgentOptions);
  try {
    const reply = await request(target, { path, agent });
    assert.equal(reply.status, 200, `${path} from ${address}: HTTP ${reply.status} ${reply.body}`);
    return reply.json<Who>();
  } finally {
    agent.destroy();
  }
}

const STICKY = '/socket.io/whoami';
const KEYS = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);

test('examples/nginx-per-worker.conf passes nginx -t as shipped', () => {
  const { ok, output } = nginxTest(readFileSync(PER_WORKER_EXAMPLE, 'utf8'));
  assert.ok(ok, output);
  assert.match(output, /test is successful/);
});

test('examples/nginx.conf and every nginx block in docs/nginx.md pass nginx -t (a site goes in an http block); the blocks are excerpts of the examples', () => {
  const docs = readFileSync(join(ROOT, 'docs/nginx.md'), 'utf8');
  const blocks = [...docs.matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  assert.ok(blocks.length >= 2, 'docs/nginx.md shows the shared-socket site and the per-worker upstreams');
  const examples = ['examples/nginx.conf', 'examples/nginx-per-worker.conf'].map((f) =>
    readFileSync(join(ROOT, f), 'utf8'),
  );
  const exampleLines = new Set(
    examples
      .join('\n')
      .split('\n')
      .map((l) => l.trim()),
  );
  for (const block of blocks) {
    const strays = block.split('\n').filter((l) => l.trim() !== '' && !exampleLines.has(l.trim()));
    assert.deepEqual(strays, [], 'docs/nginx.md shows lines the examples do not have');
  }
  for (const text of [examples[0] ?? '', ...blocks]) {
    const whole = /^http \{/m.test(text) ? text : `events {}\nhttp {\n${text}\n}\n`;
    const { ok, output } = nginxTest(whole);
    assert.ok(ok, `${output}\n--- config:\n${whole}`);
  }
});

test('nginx -t fails on a broken copy (the check can fail)', () => {
  const broken = readFileSync(PER_WORKER_EXAMPLE, 'utf8').replace('least_conn;', 'least_conn');
  assert.equal(nginxTest(broken).ok, false);
});

test('least_conn over per-worker sockets: every request succeeds, both slots serve, and fast requests pass over the slot holding a slow one', async (t) => {
  const { p, sockets } = perWorker(t, 2);
  await p.ready();
  const nginx = await startNginx(t, sockets);

  const result = await load(nginx.target, { total: 300, concurrency: 8 });
  assert.equal(result.failed, 0, `failures: ${JSON.stringify([...result.failures])}\n${nginx.errorLog()}`);
  assert.equal(result.ok, 300);
  assert.equal(result.pids.size, 2, 'both workers served');

  // One slow request in flight on a slot: least_conn sees 1 there, 0 on the other slot, so every
  // fast request goes to the other slot. A shared socket (or sockets every worker serves) cannot
  // do that: nginx would not know which worker is behind a connection.
  let slowDone = false;
  const slow = request(nginx.target, { path: '/slow?ms=2500' }).finally(() => (slowDone = true));
  const fast: Who[] = [];
  await eventually(async () => {
    const reply = await request(nginx.target, { path: '/' });
    if (!slowDone) fast.push(reply.json<Who>());
    return fast.length >= 30 || slowDone;
  }, 10_000);
  const slowReply = await slow;
  assert.equal(slowReply.status, 200);
  const slowWorker = slowReply.json<Who>().worker;
  assert.ok(fast.length >= 10, `only ${fast.length} fast requests were answered while the slow one ran`);
  // The first fast request may race the slow one to nginx; every later one must avoid its slot.
  const onSlowSlot = fast.slice(1).filter((w) => w.worker === slowWorker);
  assert.equal(
    onSlowSlot.length,
    0,
    `${onSlowSlot.length} of ${fast.length} fast requests were answered by slot ${slowWorker}, busy with the slow one`,
  );
});

test('hash $remote_addr consistent: a client address stays on its slot, with the same pid until that slot is replaced (SIGHUP, a crash)', async (t) => {
  const { p, sockets } = perWorker(t, 2);
  await p.ready();
  const nginx = await startNginx(t, sockets);

  const before = new Map<string, Who>();
  for (const key of KEYS) {
    const seen = [];
    for (let i = 0; i < 4; i += 1) seen.push(await from(nginx.target, key, STICKY));
    assert.equal(new Set(seen.map((w) => `${w.worker}/${w.pid}`)).size, 1, `${key} moved: ${JSON.stringify(seen)}`);
    before.set(key, seen[0] as Who);
  }
  assert.equal(new Set([...before.values()].map((w) => w.worker)).size, 2, 'the keys spread over both slots');

  // A rolling restart under load: every request succeeds and still reaches its key's slot.
  p.signal('SIGHUP');
  let reloaded = false;
  const done = p.waitForEvent('reload-done', () => true, 30_000).then(() => (reloaded = true));
  const during: Array<Promise<void>> = KEYS.map(async (key) => {
    while (!reloaded) {
      const who = await from(nginx.target, key, STICKY);
      assert.equal(who.worker, before.get(key)?.worker, `${key} left its slot during the reload`);
    }
  });
  await Promise.all([done, ...during]);

  const oldPids = new Set([...before.values()].map((w) => w.pid));
  // An old worker drains its kept-alive connections (nginx's pool) after reload-done: once it has
  // exited, a key can only reach its slot's new worker.
  const exited = (pid: number): boolean =>
    p.logs.some((l) => l.event === 'worker' && l.state === 'exited' && l.workerPid === pid);
  await eventually(() => [...oldPids].every(exited), 15_000, 'the old workers to exit');
  const after = new Map<string, Who>();
  for (const key of KEYS) {
    const who = await from(nginx.target, key, STICKY);
    assert.equal(who.worker, before.get(key)?.worker, `${key} changed slot across SIGHUP`);
    assert.ok(!oldPids.has(who.pid), `${key} still reached an old worker after the reload`);
    after.set(key, who);
  }

  // A crash: the slot's socket stays open, the request waits in its backlog for the replacement.
  const key = KEYS[0] as string;
  const victim = after.get(key) as Who;
  await eventually(() => p.logs.some((l) => l.event === 'worker' && l.state === 'ready' && l.workerPid === victim.pid));
  await new Promise((r) => setTimeout(r, 1200)); // past --min-uptime: a plain replacement, no back-off
  process.kill(victim.pid, 'SIGKILL');
  // Once the master saw the exit, nginx has dropped its idle connections to the dead worker (a
  // request racing the kill would fail on one and go to the next slot, nginx's proxy_next_upstream).
  await eventually(() => exited(victim.pid), 10_000, 'the killed worker to be reaped');
  const next = await from(nginx.target, key, STICKY);
  assert.equal(next.worker, victim.worker, 'the key stayed on its slot across the crash');
  assert.notEqual(next.pid, victim.pid);
  for (const other of KEYS.filter((k) => after.get(k)?.worker !== victim.worker)) {
    assert.deepEqual(await from(nginx.target, other, STICKY), after.get(other), `${other} was disturbed`);
  }
});

test('per-worker TCP ports (127.0.0.1:{BASE+worker}) behind the same upstreams: every request succeeds, each key stays on its slot', async (t) => {
  const base = await freeBase(2);
  const p = startPrefork(t, ['-w', '2', '-b', `127.0.0.1:{${base}+worker}`, app('pid.cjs')]);
  await p.ready();
  const nginx = await startNginx(t, [`127.0.0.1:${base}`, `127.0.0.1:${base + 1}`]);
  const result = await load(nginx.target, { total: 200, concurrency: 8 });
  assert.equal(result.failed, 0, `failures: ${JSON.stringify([...result.failures])}\n${nginx.errorLog()}`);
  assert.equal(result.pids.size, 2, 'both workers served');
  for (const key of KEYS.slice(0, 8)) {
    const [a, b] = [await from(nginx.target, key, STICKY), await from(nginx.target, key, STICKY)];
    assert.deepEqual(a, b, `${key} moved`);
  }
});
