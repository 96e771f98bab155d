import assert from 'node:assert/strict';
import { test } from 'node:test';
import { app, eventually, isAlive, load, request, sleep, startPrefork } from '../helpers/prefork.js';

/** npm test runs a few seconds of this; `npm run test:chaos` sets CHAOS_SECONDS for a longer run. */
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 3);

for (const keepAlive of [false, true]) {
  // Keep-alive load also exercises connection balance: kills leave the survivors holding every
  // connection, which they then shed while more workers die around them.
  const kind = keepAlive ? 'keep-alive' : 'Connection: close';
  test(`kill -9 a random worker every 300 ms for ${SECONDS} s under ${kind} load: the master survives and the pool heals`, async (t) => {
    const workers = 4;
    const concurrency = 8;
    const p = startPrefork(t, ['-w', String(workers), '-b', '127.0.0.1:0', app('pid.cjs')]);
    const target = await p.ready();
    let kills = 0;
    /** Rounds that found no ready worker to kill: the pool was backing off (see below). */
    let emptyRounds = 0;
    const killing = (async () => {
      const end = Date.now() + SECONDS * 1000;
      while (Date.now() < end) {
        await sleep(300);
        const ready = p.readyWorkers();
        const victim = ready[Math.floor(Math.random() * ready.length)];
        if (victim === undefined) {
          emptyRounds += 1;
          continue;
        }
        try {
          process.kill(victim, 'SIGKILL');
          kills += 1;
        } catch {
          /* it just left */
        }
      }
    })();
    // Until the killing ends, however many requests that is (load() stops at 100,000 by default).
    const r = await load(target, {
      until: killing,
      total: Number.POSITIVE_INFINITY,
      concurrency,
      keepAlive,
      maxMs: SECONDS * 1000 + 10_000,
    });
    await killing;
    const backoffs = p.logs.filter((l) => l.event === 'backoff').map((l) => Number(l.delayMs));
    t.diagnostic(
      `${kills} workers killed (${emptyRounds} rounds found none ready; ${backoffs.length} back-offs, longest ${Math.max(0, ...backoffs)} ms); ${r.ok} requests answered, ${r.failed} failed (${JSON.stringify([...r.failures])})`,
    );
    assert.ok(isAlive(p.pid), 'the master died');
    // 3.3 rounds a second; a round kills unless every worker is gone or still backing off.
    assert.ok(kills + emptyRounds >= SECONDS * 2, `only ${kills + emptyRounds} rounds`);
    assert.ok(kills >= SECONDS * 2, `only ${kills} kills`);
    // Only requests in flight on a killed worker may fail: at most one per client per kill.
    assert.ok(r.failed <= kills * concurrency, `${r.failed} failures for ${kills} kills`);
    for (const code of r.failures.keys())
      assert.match(code, /ECONNRESET|socket hang up|EPIPE/, `unexpected failure kind ${code}`);
    // Every victim had served, so none of this is a crash loop: each is replaced at once, however
    // young, and the pool is whole again a boot's time after the last kill.
    assert.deepEqual(backoffs, [], 'killed workers that served are no crash loop');
    const stormEnd = Date.now();
    await eventually(
      () => p.readyWorkers().length === workers,
      1500,
      `the pool to be whole (${workers} ready) within 1.5 s`,
    );
    t.diagnostic(`the pool was whole ${Date.now() - stormEnd} ms after the storm`);
    const after = await load(target, { total: 200, concurrency: 4, keepAlive });
    assert.equal(after.failed, 0);
    assert.equal((await p.stop()).code, 0);
  });
}

test('a SIGSTOPped worker is detected as hung and replaced', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--timeout', '1', app('pid.cjs')]);
  const target = await p.ready();
  const [victim] = p.readyWorkers();
  process.kill(victim!, 'SIGSTOP');
  t.after(() => {
    if (isAlive(victim!)) process.kill(victim!, 'SIGKILL');
  });
  const hung = await p.waitForEvent('worker-hung', (l) => l.workerPid === victim, 5000);
  await p.waitForLog(
    (l) => l.event === 'worker' && l.state === 'ready' && l.worker === hung.worker && l.workerPid !== victim,
  );
  await eventually(() => !isAlive(victim!), 3000, 'the stopped worker to be gone');
  assert.equal((await request(target)).status, 200);
});
