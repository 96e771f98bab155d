/**
 * A graceful stop refuses new connections from the moment its drain begins (after
 * --shutdown-delay), while what is in flight and the open keep-alive connections drain as before.
 * Before, the master kept its copies of the sockets open until the end: the kernel completed
 * handshakes into a backlog nobody accepted from, and those clients were reset when the drain ended.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Target, app, request, sleep, startPrefork, tempDir, inheritableSocket } from '../helpers/prefork.js';

/** Connects once: the error code (or 'connected') and how long the answer took. */
function connectOnce(target: Target): Promise<{ outcome: string; ms: number }> {
  const started = Date.now();
  return new Promise((done) => {
    const s = target.socketPath !== undefined ? net.connect(target.socketPath) : net.connect(target.port!, target.host);
    const finish = (outcome: string): void => {
      s.destroy();
      done({ outcome, ms: Date.now() - started });
    };
    s.setTimeout(3000, () => finish('timeout'));
    s.once('connect', () => finish('connected'));
    s.once('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
  });
}

/**
 * From `since` (the drain began: the master logged it), connects until one is refused, which must
 * come within 500 ms (the workers close their copies as the master's drain message reaches them,
 * a few ms later); from then on every connect is refused at once.
 */
async function assertRefusedFrom(since: number, target: Target, codes: readonly string[]): Promise<void> {
  let first = await connectOnce(target);
  while (first.outcome === 'connected' && Date.now() - since < 500) first = await connectOnce(target);
  // ECONNRESET: queued just before the last worker closed its copy (the kernel resets what it queued).
  const firstCodes = [...codes, 'ECONNRESET'];
  const at = Date.now() - since;
  const expected = firstCodes.join(' or ');
  assert.ok(
    firstCodes.includes(first.outcome),
    `a new connection ${at} ms into the drain: ${first.outcome} (expected ${expected})`,
  );
  assert.ok(at < 500, `the first refusal came ${at} ms into the drain`);
  for (let i = 0; i < 3; i += 1) {
    const { outcome, ms } = await connectOnce(target);
    assert.ok(
      codes.includes(outcome),
      `a new connection later in the drain: ${outcome} (expected ${codes.join(' or ')})`,
    );
    assert.ok(ms < 500, `refused after ${ms} ms`);
  }
}

test('TERM: from the drain on, a new TCP connection is refused at once; the request in flight still gets its 200', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  const slow = request(target, { path: '/slow?ms=2000' });
  await sleep(200);
  p.signal('SIGTERM');
  await p.waitForEvent('stopping');
  await assertRefusedFrom(Date.now(), target, ['ECONNREFUSED']);
  assert.equal((await slow).status, 200);
  assert.deepEqual(await p.exited, { code: 0, signal: null });
});

test('TERM: from the drain on, the unix socket file is gone (ENOENT at once); the request in flight gets its 200', async (t) => {
  const sock = join(tempDir(t), 'app.sock');
  const p = startPrefork(t, ['-w', '2', '-b', `unix:${sock}`, app('pid.cjs')]);
  await p.ready();
  const slow = request({ socketPath: sock }, { path: '/slow?ms=2000' });
  await sleep(200);
  p.signal('SIGTERM');
  await p.waitForEvent('stopping');
  await assertRefusedFrom(Date.now(), { socketPath: sock }, ['ENOENT']);
  assert.equal(existsSync(sock), false, 'the socket file is removed when the drain begins');
  assert.equal((await slow).status, 200);
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  const complaints = p.logs.filter((l) => Number(l.level) >= 40);
  assert.deepEqual(complaints, [], 'no warning or error about the file already removed');
});

test('--shutdown-delay: new connections are served during the delay, refused at once from the drain on', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--shutdown-delay', '1', app('pid.cjs')]);
  const target = await p.ready();
  const slow = request(target, { path: '/slow?ms=3000' });
  await sleep(200);
  p.signal('SIGTERM');
  await p.waitForEvent('stopping');
  await sleep(300);
  const during = await request(target, { headers: { connection: 'close' } });
  assert.equal(during.status, 200, 'served during --shutdown-delay');
  await p.waitForEvent('shutdown-delay-over');
  await assertRefusedFrom(Date.now(), target, ['ECONNREFUSED']);
  assert.equal((await slow).status, 200);
  assert.deepEqual(await p.exited, { code: 0, signal: null });
});

interface Failure {
  code: string;
  /** The request went out on a kept-alive connection opened earlier. */
  reused: boolean;
  /** When the connection it went out on was opened (the client's clock, as the log's). */
  openedAt: number;
  /** From sending the request to its error. */
  ms: number;
}

/** One keep-alive client: requests back to back on its own agent until `stop()` says so. */
async function keepAliveClient(target: Target, stop: () => boolean, failures: Failure[]): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let ok = 0;
  for (let i = 0; i < 2000 && !stop(); i += 1) {
    const sentAt = Date.now();
    let openedAt = sentAt;
    let reused = false;
    try {
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ ...target, path: '/', agent, timeout: 10_000 }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        });
        req.on('socket', () => {
          reused = req.reusedSocket;
          if (!reused) openedAt = Date.now();
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });
      ok += 1;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      failures.push({ code, reused, openedAt, ms: Date.now() - sentAt });
      // Refusals are instant: pace the retries.
      await sleep(20);
    }
  }
  agent.destroy();
  return ok;
}

test('a keep-alive load across TERM: no kept-alive connection fails; only connections opened after the drain began, refused at once', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  let exited = false;
  void p.exited.then(() => (exited = true));
  const failures: Failure[] = [];
  const deadline = Date.now() + 15_000;
  const stop = (): boolean => exited || Date.now() > deadline;
  const clients = Array.from({ length: 4 }, () => keepAliveClient(target, stop, failures));
  await sleep(400);
  // Holds the drain open for 2 s: a connection queued instead of refused would wait that long.
  const slow = request(target, { path: '/slow?ms=2000' });
  await sleep(100);
  p.signal('SIGTERM');
  const drainStart = Number((await p.waitForEvent('stopping')).time);
  assert.equal((await slow).status, 200);
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  const ok = (await Promise.all(clients)).reduce((a, b) => a + b, 0);
  const codes = [...new Set(failures.map((f) => f.code))];
  t.diagnostic(
    `${ok} requests answered, ${failures.length} failed (${codes.join(', ')}); the drain began at ${drainStart}`,
  );
  assert.ok(ok > 0);
  assert.deepEqual(
    failures.filter((f) => f.reused),
    [],
    'no request on a kept-alive connection failed',
  );
  // 50 ms: a connect issued in the very moment the sockets close may land on either side.
  const early = failures.filter((f) => f.openedAt < drainStart - 50);
  assert.deepEqual(early, [], 'no connection opened before the drain failed');
  const late = failures.filter((f) => f.ms >= 500);
  assert.deepEqual(late, [], 'every failure was a refusal at once, not a wait for the drain');
});

test('fd://N whose giver closed its copy: refused from the drain on as well', async (t) => {
  const { fd, port, close } = await inheritableSocket(t);
  const p = startPrefork(t, ['-w', '2', '-b', 'fd://3', app('pid.cjs')], { extraFds: [fd] });
  await p.ready();
  await close();
  const target = { host: '127.0.0.1', port };
  const slow = request(target, { path: '/slow?ms=2000' });
  await sleep(200);
  p.signal('SIGTERM');
  await p.waitForEvent('stopping');
  await assertRefusedFrom(Date.now(), target, ['ECONNREFUSED']);
  assert.equal((await slow).status, 200);
  assert.deepEqual(await p.exited, { code: 0, signal: null });
});
