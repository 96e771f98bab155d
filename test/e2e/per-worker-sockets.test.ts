import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Prefork, type Target, app, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

// Per-worker binds ({worker}): start-up, serving, replacements, stop. Scaling, hot upgrade and
// status are in per-worker-sockets-scale.test.ts.

export interface Who {
  worker: string;
  pid: number;
}

export const WORKER_ID_APP = app('worker-id.cjs');

export async function who(target: Target): Promise<Who> {
  const reply = await request(target, { headers: { connection: 'close' } });
  assert.equal(reply.status, 200);
  return reply.json<Who>();
}

export const sock = (dir: string, slot: number): Target => ({ socketPath: join(dir, `web-${slot}.sock`) });

/** The master's own view of a worker's pid, by its exited/ready lines. */
const exitedPid = (p: Prefork, pid: number): Promise<unknown> =>
  p.waitForEvent('worker', (l) => l.workerPid === pid && l.state === 'exited');

/** A free port whose next `count - 1` ports are free too (loopback), for HOST:{BASE+worker}. */
export async function freeBase(count: number): Promise<number> {
  const tryListen = (port: number): Promise<net.Server | null> =>
    new Promise((done) => {
      const s = net.createServer();
      s.once('error', () => done(null));
      s.listen(port, '127.0.0.1', () => done(s));
    });
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const first = await tryListen(0);
    const base = (first!.address() as net.AddressInfo).port;
    const held = [first!];
    for (let i = 1; i < count; i += 1) {
      const s = base + i <= 65535 ? await tryListen(base + i) : null;
      if (s === null) break;
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise((done) => s.close(done))));
    if (held.length === count) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}

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
