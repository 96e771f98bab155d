import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type Prefork,
  type Target,
  app,
  eventually,
  request,
  sleep,
  startPrefork,
  tempDir,
  toTarget,
} from '../helpers/prefork.js';
import { upgrade, waitLog } from '../helpers/upgrade.js';

interface Probe {
  status: number;
  state: string;
  serving: number;
  desired: number;
}

async function probe(at: Target, path: '/livez' | '/readyz'): Promise<Probe> {
  const reply = await request(at, { path, timeoutMs: 3000 });
  assert.equal(reply.headers['content-type'], 'application/json');
  return { status: reply.status, ...reply.json<Omit<Probe, 'status'>>() };
}

/** The admin listener's address, from the master's log line (it is up before any worker forks). */
async function adminAt(p: Prefork): Promise<Target> {
  const address = String((await p.waitForEvent('metrics-listening')).address).replace(/\/metrics$/, '');
  return toTarget(address);
}

const slowApp = ['--factory', app('probe-app.mjs')];

for (const kind of ['tcp', 'unix'] as const) {
  test(`probes over ${kind}: /readyz 503 while the workers boot, 200 once they serve; /livez 200 throughout`, async (t) => {
    const bind = kind === 'tcp' ? '127.0.0.1:0' : `unix:${join(tempDir(t), 'admin.sock')}`;
    const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--metrics-bind', bind, ...slowApp], {
      env: { FACTORY_MS: '1500' },
    });
    const admin = await adminAt(p);
    const booting = await probe(admin, '/readyz');
    assert.deepEqual(booting, { status: 503, ok: false, state: 'starting', serving: 0, desired: 2 } as Probe);
    assert.equal(
      p.logs.some((l) => l.event === 'ready'),
      false,
      'probed before the workers served',
    );
    assert.equal((await probe(admin, '/livez')).status, 200);
    await p.ready();
    assert.deepEqual(await probe(admin, '/readyz'), {
      status: 200,
      ok: true,
      state: 'running',
      serving: 2,
      desired: 2,
    } as Probe);
    assert.equal((await probe(admin, '/livez')).status, 200);
    assert.match((await request(admin, { path: '/metrics' })).body, /prefork_workers\{state="ready"\} 2/);
    assert.deepEqual(await p.stop(), { code: 0, signal: null });
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} with --shutdown-delay 2: /readyz 503 at once while the app still serves, /livez 200 during the delay`, async (t) => {
    const p = startPrefork(t, [
      '-w',
      '2',
      '-b',
      '127.0.0.1:0',
      '--metrics-bind',
      '127.0.0.1:0',
      '--shutdown-delay',
      '2',
      app('pid.cjs'),
    ]);
    const admin = await adminAt(p);
    const target = await p.ready();
    assert.equal((await probe(admin, '/readyz')).status, 200);
    p.signal(signal);
    await p.waitForEvent('stopping');
    const stopping = await probe(admin, '/readyz');
    assert.equal(stopping.status, 503);
    assert.equal(stopping.state, 'stopping');
    assert.equal((await probe(admin, '/livez')).status, 200);
    await sleep(1000);
    assert.equal((await probe(admin, '/readyz')).status, 503, 'still not ready a second into the delay');
    assert.equal((await probe(admin, '/livez')).status, 200, 'alive during the delay');
    assert.equal((await request(target, { headers: { connection: 'close' } })).status, 200, 'the app still serves');
    assert.equal(
      p.logs.some((l) => l.event === 'shutdown-delay-over'),
      false,
      'all of it within the delay',
    );
    assert.deepEqual(await p.exited, { code: 0, signal: null });
  });
}

test('no worker serving (the only worker killed, its replacement booting): /readyz 503, then 200 again (unix --admin-bind)', async (t) => {
  const admin = { socketPath: join(tempDir(t), 'admin.sock') };
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--admin-bind', `unix:${admin.socketPath}`, ...slowApp], {
    env: { FACTORY_MS: '1000' },
  });
  await p.ready();
  assert.equal((await probe(admin, '/readyz')).status, 200);
  const [worker] = p.readyWorkers();
  process.kill(worker!, 'SIGKILL');
  let seen: Probe | null = null;
  await eventually(async () => (seen = await probe(admin, '/readyz')).status === 503, 5000, '/readyz 503');
  assert.deepEqual(seen, { status: 503, ok: false, state: 'running', serving: 0, desired: 1 } as Probe);
  assert.equal((await probe(admin, '/livez')).status, 200);
  await eventually(async () => (await probe(admin, '/readyz')).status === 200, 10_000, '/readyz 200 again');
  assert.deepEqual(await p.stop(), { code: 0, signal: null });
});

test('a failed start: /readyz 503 while the app loads, then the master exits 4', async (t) => {
  const admin = { socketPath: join(tempDir(t), 'admin.sock') };
  const p = startPrefork(
    t,
    ['-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', `unix:${admin.socketPath}`, ...slowApp],
    {
      env: { FACTORY_MS: '1000', FACTORY_FAIL: '1' },
    },
  );
  await p.waitForEvent('metrics-listening');
  assert.equal((await probe(admin, '/readyz')).status, 503);
  assert.deepEqual(await p.exited, { code: 4, signal: null });
  assert.equal(
    p.logs.some((l) => l.event === 'ready'),
    false,
  );
});

test('a hot upgrade (USR2) keeps the pod ready: /readyz every 50 ms across it, never a 503 or a refused connection', async (t) => {
  const admin = { socketPath: join(tempDir(t), 'admin.sock') };
  const p = startPrefork(
    t,
    ['-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', `unix:${admin.socketPath}`, ...slowApp],
    {
      env: { FACTORY_MS: '1000' },
    },
  );
  const target = await p.ready();
  const replies: string[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      try {
        const r = await probe(admin, '/readyz');
        replies.push(`${r.status} ${r.state}`);
      } catch (err) {
        replies.push(`error ${(err as Error).message}`);
      }
      await sleep(50);
    }
  })();
  await sleep(200);
  const newPid = await upgrade(t, p);
  // Sent while the new master's workers still boot (1 s), so an old worker takes it: it keeps the
  // old master draining for a while after the hand-over, sharing the admin socket with the new one.
  const inFlight = request(target, { path: '/slow?ms=6000' });
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid, 20_000, 'took-over');
  assert.equal((await inFlight).status, 200);
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  await sleep(300);
  polling = false;
  await poller;
  const bad = replies.filter((r) => !r.startsWith('200 '));
  assert.deepEqual(bad, [], `every probe: ${replies.join(', ')}`);
  assert.ok(replies.includes('200 handed-over'), `the old master answered while draining: ${replies.join(', ')}`);
  assert.equal(replies.at(-1), '200 running', 'the new master answers once the old one is gone');
  process.kill(newPid, 'SIGTERM');
});
