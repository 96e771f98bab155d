/**
 * /metrics must not cost the master much, whoever calls it how often: a burst shares one render
 * per interval, the connections it holds are capped (the rest are closed unread), and none stays
 * open after its response.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { METRICS_MAX_CONNECTIONS, METRICS_RENDER_MS } from '../../src/master/metrics-server.js';
import { type Target, app, request, sleep, startPrefork } from '../helpers/prefork.js';

async function metricsTarget(t: TestContext): Promise<Target> {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0', app('pid.cjs')]);
  await p.ready();
  const url = new URL(String((await p.waitForEvent('metrics-listening')).address));
  return { host: url.hostname, port: Number(url.port) };
}

/** One GET /metrics on a connection of its own: the body, or the error code. */
function scrape(target: Target): Promise<{ status: number; body: string } | { code: string }> {
  return new Promise((done) => {
    const req = http.get({ ...target, path: '/metrics', agent: false, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      res.on('error', (err: NodeJS.ErrnoException) => done({ code: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => done({ code: err.code ?? err.message }));
  });
}

test('a burst of 200 parallel /metrics requests: each answered 200 or refused, one render shared per interval, the master answers afterwards', async (t) => {
  const target = await metricsTarget(t);
  const results = await Promise.all(Array.from({ length: 200 }, () => scrape(target)));
  const answered = results.filter((r): r is { status: number; body: string } => 'status' in r);
  const refused = results.filter((r): r is { code: string } => 'code' in r);
  const codes = [...new Set(refused.map((r) => r.code))];
  t.diagnostic(`${answered.length} answered, ${refused.length} refused (${codes.join(', ')})`);
  assert.ok(answered.length > 0);
  assert.deepEqual(
    answered.filter((r) => r.status !== 200).map((r) => r.status),
    [],
  );
  const notClosed = refused.filter((r) => r.code !== 'ECONNRESET' && r.code !== 'EPIPE');
  assert.deepEqual(notClosed, [], 'refused means closed, never a timeout');
  // The uptime line tells renders apart: two of them are at least METRICS_RENDER_MS apart.
  const uptimeOf = (body: string): number => Number(/^prefork_master_uptime_seconds (\S+)$/m.exec(body)?.[1]);
  const uptimes = [...new Set(answered.map((r) => uptimeOf(r.body)))].sort((a, b) => a - b);
  for (let i = 1; i < uptimes.length; i += 1) {
    const [a, b] = [uptimes[i - 1]!, uptimes[i]!];
    assert.ok(
      b - a >= (METRICS_RENDER_MS - 5) / 1000,
      `renders at ${a} s and ${b} s: closer than ${METRICS_RENDER_MS} ms`,
    );
  }
  const after = await request(target, { path: '/metrics' });
  assert.equal(after.status, 200);
  assert.match(after.body, /^prefork_workers\{state="ready"\} 2$/m);
});

test(`connections beyond ${METRICS_MAX_CONNECTIONS} are closed unread; once those close, /metrics answers, each response closing its connection`, async (t) => {
  const target = await metricsTarget(t);
  const idle = await Promise.all(
    Array.from(
      { length: METRICS_MAX_CONNECTIONS },
      () =>
        new Promise<net.Socket>((done) => {
          const s = net.connect(target.port!, target.host, () => done(s));
          s.on('error', () => {});
        }),
    ),
  );
  t.after(() => idle.forEach((s) => s.destroy()));
  // The master accepts them (they hold every slot) within this.
  await sleep(300);
  const started = Date.now();
  const beyond = await scrape(target);
  assert.deepEqual(beyond, { code: 'ECONNRESET' }, 'the connection beyond the cap is closed without an answer');
  assert.ok(Date.now() - started < 1000, `refused after ${Date.now() - started} ms`);
  idle.forEach((s) => s.destroy());
  await sleep(200);
  const reply = await request(target, { path: '/metrics', agent: new http.Agent({ keepAlive: true }) });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers.connection, 'close', 'no idle keep-alive connection left holding a slot');
});
