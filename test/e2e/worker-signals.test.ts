import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { type TestContext, test } from 'node:test';
import { CLI, type Prefork, ROOT, app, killOurs, request, sleep, startPrefork, track } from '../helpers/prefork.js';

/** Every signal the master acts on but TERM and INT (a worker drains on those): none may hurt a worker. */
const MASTER_ONLY: readonly NodeJS.Signals[] = [
  'SIGHUP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGUSR1',
  'SIGUSR2',
  'SIGQUIT',
  'SIGWINCH',
];

test('signals meant for the master, sent straight to a worker: the request in flight completes, the worker lives on', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  const [worker] = p.readyWorkers();
  assert.ok(worker !== undefined);
  const inFlight = request(target, { path: '/slow?ms=1500' });
  await sleep(300);
  for (const signal of MASTER_ONLY) process.kill(worker, signal);
  const reply = await inFlight;
  assert.equal(reply.status, 200);
  assert.equal(reply.json<{ pid: number }>().pid, worker);
  assert.equal((await request(target)).json<{ pid: number }>().pid, worker, 'the same worker serves the next request');
  assert.deepEqual(p.workerEvents('exited'), [], 'no worker exited');
  assert.equal((await p.stop()).code, 0);
});

/** Detached: the CLI leads its own process group, as under systemd, and the test runner is not in it. */
function startGroupLeader(t: TestContext): { p: Prefork; child: ChildProcess } {
  const child = spawn(process.execPath, [CLI, '-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')], {
    cwd: ROOT,
    env: { ...process.env, PREFORK_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  return { p: track(t, child), child };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to the whole process group (Ctrl-C, systemd's KillMode): the worker drains, its request completes`, async (t) => {
    const { p, child } = startGroupLeader(t);
    const target = await p.ready();
    const [worker] = p.readyWorkers();
    assert.ok(worker !== undefined && child.pid !== undefined);
    const inFlight = request(target, { path: '/slow?ms=1000' });
    await sleep(300);
    process.kill(-child.pid, signal);
    const reply = await inFlight;
    assert.deepEqual([reply.status, reply.json<{ pid: number }>().pid], [200, worker]);
    assert.equal((await p.exited).code, 0);
    const exited = p.logs
      .filter((l) => l.event === 'worker' && l.state === 'exited' && l.workerPid === worker)
      .map((l) => l.reason);
    assert.deepEqual(exited, ['drained (code 0)']);
  });
}

test('USR2 and friends sent to the whole process group: the worker finishes its request (the master upgrades meanwhile)', async (t) => {
  const { p, child } = startGroupLeader(t);
  // A hot upgrade's new master shares our stdout: kill it too whatever happens.
  t.after(() => {
    for (const l of p.logs)
      if (l.role === 'master' && typeof l.pid === 'number' && l.pid !== child.pid) killOurs(l.pid);
  });
  const target = await p.ready();
  const [worker] = p.readyWorkers();
  assert.ok(worker !== undefined && child.pid !== undefined);
  const inFlight = request(target, { path: '/slow?ms=1500' });
  await sleep(300);
  // Harmless to the master too (with one worker TTOU changes nothing, TTIN adds one, USR1 reopens stdout).
  for (const signal of ['SIGTTOU', 'SIGTTIN', 'SIGUSR1', 'SIGWINCH'] as const) process.kill(-child.pid, signal);
  // The master starts a hot upgrade: its workers must drain once the new master serves, not die now.
  process.kill(-child.pid, 'SIGUSR2');
  const reply = await inFlight;
  assert.equal(reply.status, 200);
  assert.equal(reply.json<{ pid: number }>().pid, worker);
  await p.waitForEvent('took-over', () => true, 20_000);
  assert.equal((await p.exited).code, 0, 'the old master hands over and leaves');
  const exited = p.logs
    .filter((l) => l.event === 'worker' && l.state === 'exited' && l.workerPid === worker)
    .map((l) => l.reason);
  assert.deepEqual(exited, ['drained (code 0)'], 'the old worker drained, after its request');
  const newMaster = p.logs.find((l) => l.event === 'took-over');
  if (typeof newMaster?.pid === 'number') process.kill(newMaster.pid, 'SIGTERM');
});
