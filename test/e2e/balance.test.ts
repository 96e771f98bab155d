import assert from 'node:assert/strict';
import http from 'node:http';
import { test, type TestContext } from 'node:test';
import { join } from 'node:path';
import { app, distinctPids, request, startPrefork, tempDir, type Prefork, type Target } from '../helpers/prefork.js';

const CONNECTIONS = 24;
const LOAD_MS = 3000;

/**
 * Piles every keep-alive connection on one worker (the other is stopped while they connect, as
 * when the kernel hands a burst of connects to whichever worker wakes first), then sends requests
 * on them back to back. Returns the share of the last second's responses the other worker served.
 */
async function pileUpThenLoad(
  t: TestContext,
  p: Prefork,
  target: Target,
): Promise<{ laterShare: number; failed: string[]; ok: number }> {
  const [busy, other] = p.readyWorkers();
  assert.ok(busy !== undefined && other !== undefined);
  process.kill(other, 'SIGSTOP');
  let stopped = true;
  const resume = (): void => {
    if (stopped) process.kill(other, 'SIGCONT');
    stopped = false;
  };
  t.after(resume);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  t.after(() => agent.destroy());
  const first = await Promise.all(Array.from({ length: CONNECTIONS }, () => request(target, { agent })));
  assert.deepEqual(
    new Set(first.map((r) => r.json<{ pid: number }>().pid)),
    new Set([busy]),
    'every connection opened on the one running worker',
  );
  resume();

  const started = Date.now();
  const answers: Array<{ pid: number; at: number }> = [];
  const failed: string[] = [];
  const client = async (): Promise<void> => {
    while (Date.now() - started < LOAD_MS) {
      try {
        const reply = await request(target, { agent });
        if (reply.status === 200) answers.push({ pid: reply.json<{ pid: number }>().pid, at: Date.now() - started });
        else failed.push(`HTTP ${reply.status}`);
      } catch (err) {
        failed.push((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, client));
  const later = answers.filter((a) => a.at >= LOAD_MS - 1000);
  return { laterShare: later.filter((a) => a.pid === other).length / later.length, failed, ok: answers.length };
}

test('keep-alive connections piled on one worker are moved to the other, without a failed request', async (t) => {
  const p = startPrefork(t, [
    '-w',
    '2',
    '-b',
    '127.0.0.1:0',
    '--log-level',
    'debug',
    '--metrics-bind',
    '127.0.0.1:0',
    app('pid.cjs'),
  ]);
  const target = await p.ready();
  const metricsAt = new URL(String((await p.waitForEvent('metrics-listening')).address));
  const { laterShare, failed, ok } = await pileUpThenLoad(t, p, target);
  assert.deepEqual(failed, []);
  assert.ok(ok > 500, `only ${ok} requests answered`);
  // Balanced is 50 %; the tolerance lets a worker keep up to 60 % of the connections.
  assert.ok(
    laterShare >= 0.3,
    `the second worker served only ${(laterShare * 100).toFixed(0)} % of the last second's requests`,
  );
  const shed = p.logs.find((l) => l.role === 'master' && l.event === 'shed');
  assert.ok(shed, 'the master logged a shed order');
  assert.ok(Number(shed.count) >= CONNECTIONS / 2 - 2, `shed ${String(shed.count)} connections`);
  assert.ok(
    p.logs.some((l) => l.role === 'worker' && l.event === 'shed'),
    'the worker logged the shed',
  );
  assert.equal((await distinctPids(target, 2)).size, 2, 'both workers accept new connections again');
  const metrics = (await request({ host: metricsAt.hostname, port: Number(metricsAt.port) }, { path: '/metrics' }))
    .body;
  assert.ok(Number(/^prefork_connections_shed_total (\d+)$/m.exec(metrics)?.[1]) >= Number(shed.count), metrics);
  assert.match(metrics, /^prefork_worker_keepalive_connections\{worker="1",pid="\d+"\} \d+$/m);
});

test('on a unix socket too: the shedding worker accepts again on the socket the master sends back', async (t) => {
  const sock = join(tempDir(t), 'app.sock');
  const p = startPrefork(t, ['-w', '2', '-b', `unix:${sock}`, '--log-level', 'debug', app('pid.cjs')]);
  await p.ready();
  const { laterShare, failed } = await pileUpThenLoad(t, p, { socketPath: sock });
  assert.deepEqual(failed, []);
  assert.ok(
    laterShare >= 0.3,
    `the second worker served only ${(laterShare * 100).toFixed(0)} % of the last second's requests`,
  );
  assert.ok(!p.logs.some((l) => l.event === 'relisten-failed'));
  assert.equal((await distinctPids({ socketPath: sock }, 2)).size, 2, 'both workers accept new connections again');
});

test('--no-balance leaves keep-alive connections where the kernel put them', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--log-level', 'debug', '--no-balance', app('pid.cjs')]);
  const target = await p.ready();
  const { laterShare, failed } = await pileUpThenLoad(t, p, target);
  assert.deepEqual(failed, []);
  assert.equal(laterShare, 0);
  assert.ok(!p.logs.some((l) => l.event === 'shed'));
});

test("drop-in apps keep their connections: their listening server is the app's own, never paused", async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--log-level', 'debug', app('dropin-http.mjs')]);
  const target = await p.ready();
  const { laterShare, failed } = await pileUpThenLoad(t, p, target);
  assert.deepEqual(failed, []);
  assert.equal(laterShare, 0);
  assert.ok(!p.logs.some((l) => l.event === 'shed'), 'no shed order for workers that cannot shed');
});
