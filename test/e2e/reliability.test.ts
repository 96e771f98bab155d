import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type Prefork,
  app,
  distinctPids,
  eventually,
  isAlive,
  request,
  sleep,
  startPrefork,
  tempDir,
  runClient,
} from '../helpers/prefork.js';

/** Slot of every worker the master counts as ready, from its log; a slot listed twice is a bug. */
function readySlots(p: Prefork): number[] {
  const ready = new Set(p.readyWorkers());
  const slotOf = new Map<number, number>();
  for (const l of p.logs)
    if (l.event === 'worker' && l.role === 'master') slotOf.set(Number(l.workerPid), Number(l.worker));
  return [...ready].map((pid) => slotOf.get(pid) ?? -1).sort((a, b) => a - b);
}

/** Worker processes still alive among those the master ever logged. */
function liveWorkers(p: Prefork): number[] {
  const pids = new Set(
    p.logs.filter((l) => l.event === 'worker' && l.role === 'master').map((l) => Number(l.workerPid)),
  );
  return [...pids].filter(isAlive);
}

/** The reload ended: a reload-done after the last reload started, and nothing left over. */
async function reloadSettled(p: Prefork, workers: number): Promise<void> {
  const done = (): boolean => {
    const last = p.logs.findLastIndex((l) => l.event === 'reload');
    const ended = p.logs.findLastIndex((l) => l.event === 'reload-done') > last;
    // A TTIN's worker may still boot once the reload is done: it counts when it is ready.
    return ended && liveWorkers(p).length === workers && p.readyWorkers().length === workers;
  };
  await eventually(done, 15_000, `the reload to end with ${workers} workers`);
  assert.deepEqual(readySlots(p), [...Array(workers).keys()], 'one ready worker per slot');
}

test('an app that exits on every 10th request: each worker that served is replaced at once, the service stays up', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('exits-every.cjs')]);
  const target = await p.ready();
  let lastOk = Date.now();
  let longestGap = 0;
  let ok = 0;
  let failed = 0;
  const end = Date.now() + 3000;
  while (Date.now() < end && ok < 600) {
    try {
      await request(target, { headers: { connection: 'close' }, timeoutMs: 2000 });
      longestGap = Math.max(longestGap, Date.now() - lastOk);
      lastOk = Date.now();
      ok += 1;
    } catch {
      failed += 1;
      await sleep(5);
    }
  }
  longestGap = Math.max(longestGap, Date.now() - lastOk);
  const died = (l: (typeof p.logs)[number]): boolean =>
    l.event === 'worker' && l.state === 'exited' && /died unexpectedly/.test(String(l.reason));
  const deaths = p.logs.filter(died).length;
  const backoffs = p.logs.filter((l) => l.event === 'backoff').map((l) => Number(l.delayMs));
  t.diagnostic(`${ok} answered, ${failed} failed, ${deaths} workers died`);
  t.diagnostic(`longest gap without an answer ${longestGap} ms, back-offs ${JSON.stringify(backoffs)}`);
  assert.ok(deaths >= 5, `only ${deaths} deaths: the app did not crash as designed`);
  assert.deepEqual(backoffs, [], 'a worker that served is no crash loop');
  assert.ok(longestGap < 1000, `no answer for ${longestGap} ms`);
  assert.equal((await p.stop()).code, 0);
});

test('a paused master (SIGSTOP longer than --timeout) kills no worker on resume; a stopped worker is still found hung', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--timeout', '2', app('pid.cjs')]);
  const target = await p.ready();
  const before = p.readyWorkers().sort();
  p.signal('SIGSTOP');
  t.after(() => {
    if (isAlive(p.pid)) process.kill(p.pid, 'SIGCONT');
  });
  await sleep(4000);
  p.signal('SIGCONT');
  await sleep(2500);
  assert.deepEqual(
    p.logs.filter((l) => l.event === 'worker-hung'),
    [],
    'a worker was judged hung on time the master slept',
  );
  assert.deepEqual(p.readyWorkers().sort(), before);
  assert.deepEqual([...(await distinctPids(target, 2))].sort(), before, 'the same workers serve');
  // The guard discounts only the master's own sleep: a worker frozen alone is still hung.
  const [victim] = before;
  process.kill(victim!, 'SIGSTOP');
  t.after(() => {
    if (isAlive(victim!)) process.kill(victim!, 'SIGKILL');
  });
  await p.waitForEvent('worker-hung', (l) => l.workerPid === victim, 6000);
  assert.equal((await p.stop()).code, 0);
});

test('50 SIGHUPs in 2 s: the reloads coalesce and end with exactly the desired workers, one per slot', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  for (let i = 0; i < 50; i += 1) {
    p.signal('SIGHUP');
    await sleep(40);
  }
  await reloadSettled(p, 2);
  assert.equal((await request(target)).status, 200);
  assert.equal((await p.stop()).code, 0);
});

test('SIGHUP, then SIGTTIN 100 ms later: three workers, one per slot', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
  await p.ready();
  p.signal('SIGHUP');
  await sleep(100);
  p.signal('SIGTTIN');
  await reloadSettled(p, 3);
  await sleep(500);
  assert.equal(liveWorkers(p).length, 3, 'no extra worker appeared later');
  assert.deepEqual(readySlots(p), [0, 1, 2]);
  assert.equal((await p.stop()).code, 0);
});

test('two `prefork reload` at once: both finish, the master is not left reloading, one new worker per slot', async (t) => {
  const control = join(tempDir(t), 'ctl.sock');
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--control', control, app('pid.cjs')]);
  await p.ready();
  const before = new Set(p.readyWorkers());
  const [a, b] = await Promise.all([
    runClient(['reload', '--control', control]),
    runClient(['reload', '--control', control]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  await reloadSettled(p, 2);
  assert.ok(
    p.readyWorkers().every((pid) => !before.has(pid)),
    'every worker was replaced',
  );
  const status = await runClient(['status', '--control', control, '--json']);
  assert.equal((JSON.parse(status.stdout) as { master: { reloading: boolean } }).master.reloading, false);
  assert.equal((await p.stop()).code, 0);
});
