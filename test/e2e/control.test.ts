import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  app,
  eventually,
  load,
  request,
  runPrefork,
  sleep,
  startPrefork,
  tempDir,
  runClient,
} from '../helpers/prefork.js';

interface StatusJson {
  master: {
    pid: number;
    requests: number;
    workers: number;
    ready: number;
    restarts: Record<string, number>;
    binds: string[];
  };
  workers: Array<{
    id: number;
    pid: number;
    state: string;
    requests: number;
    inflight: number;
    rss: number;
    restarts: number;
    lastExit: string | null;
  }>;
}

async function statusJson(control: string): Promise<StatusJson> {
  const r = await runClient(['status', '--control', control, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusJson;
}

function metrics(target: { host?: string; port?: number; socketPath?: string }): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    http
      .get({ ...target, path: '/metrics', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => {
          const m = new Map<string, number>();
          for (const line of body.split('\n'))
            if (line && !line.startsWith('#'))
              m.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1)));
          resolve(m);
        });
      })
      .on('error', reject);
  });
}

function start(
  t: TestContext,
  extra: string[] = [],
): { p: ReturnType<typeof startPrefork>; control: string; metricsSock: string } {
  const dir = tempDir(t);
  const control = join(dir, 'ctl.sock');
  const metricsSock = join(dir, 'metrics.sock');
  const p = startPrefork(t, [
    '-w',
    '2',
    '-b',
    '127.0.0.1:0',
    '--control',
    control,
    '--metrics-bind',
    `unix:${metricsSock}`,
    ...extra,
    app('pid.cjs'),
  ]);
  return { p, control, metricsSock };
}

test('prefork status: a table and --json with the master and every worker; the socket is 0600 and goes on stop', async (t) => {
  const { p, control } = start(t, ['--name', 'shop']);
  const target = await p.ready();
  assert.equal(statSync(control).mode & 0o777, 0o600);
  for (let i = 0; i < 10; i += 1) await request(target);
  const table = await runClient(['status', '--control', control]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`prefork master pid ${p.pid} \\[shop\\]`));
  assert.match(table.stdout, /workers: {2}2\/2 ready/);
  assert.match(table.stdout, /ID +PID +STATE +AGE +REQUESTS +INFLIGHT +KEEPALIVE +RSS +LAG +RESTARTS +LAST EXIT/);
  for (const pid of p.readyWorkers()) assert.match(table.stdout, new RegExp(`\\n[01] +${pid} +ready `));
  const s = await statusJson(control);
  assert.equal(s.master.pid, p.pid);
  assert.deepEqual(s.workers.map((w) => w.id).sort(), [0, 1]);
  for (const w of s.workers) {
    assert.equal(w.state, 'ready');
    assert.ok(w.rss > 1_000_000, 'rss comes from the heartbeat');
    assert.equal(typeof w.inflight, 'number');
  }
  assert.equal((await p.stop()).code, 0);
  assert.equal(existsSync(control), false);
});

test('request counts in status and prefork_http_requests_total equal what was sent, across recycles and a kill -9', async (t) => {
  const { p, control, metricsSock } = start(t, ['--max-requests', '40']);
  const target = await p.ready();
  const first = await load(target, { total: 150, concurrency: 4 });
  assert.equal(first.failed, 0);
  // Let a heartbeat carry the last counts before the kill: SIGKILL loses what was not yet reported.
  await sleep(1500);
  const victim = p.readyWorkers()[0]!;
  process.kill(victim, 'SIGKILL');
  await p.waitForLog((l) => l.event === 'worker' && l.state === 'exited' && l.workerPid === victim);
  await eventually(() => p.readyWorkers().length === 2, 5000, '2 ready workers');
  const second = await load(target, { total: 50, concurrency: 2 });
  assert.equal(second.failed, 0);
  await sleep(1500);
  const s = await statusJson(control);
  assert.equal(s.master.requests, 200, 'status: requests over all workers, live and gone');
  assert.ok(s.workers.reduce((n, w) => n + w.requests, 0) <= 200);
  assert.ok((s.master.restarts.max_requests ?? 0) >= 3, JSON.stringify(s.master.restarts));
  assert.equal(s.master.restarts.crash, 1);
  const m = await metrics({ socketPath: metricsSock });
  assert.equal(m.get('prefork_http_requests_total{status_class="2xx"}'), 200);
  assert.equal(m.get('prefork_http_request_duration_seconds_count'), 200);
  assert.ok((m.get('prefork_worker_restarts_total{reason="max_requests"}') ?? 0) >= 3);
  assert.equal(m.get('prefork_worker_restarts_total{reason="crash"}'), 1);
  assert.equal(m.get('prefork_workers{state="ready"}'), 2);
  const lastExit = s.workers.map((w) => w.lastExit).join(' ');
  assert.match(lastExit, /SIGKILL|drained/);
});

test('prefork reload and scale print progress until done; prefork stop waits for the master to leave', async (t) => {
  const { p, control } = start(t);
  await p.ready();
  const before = new Set(p.readyWorkers());
  const reload = await runClient(['reload', '--control', control]);
  assert.equal(reload.code, 0, reload.stderr);
  // Progress lines until done; how many depends on how fast the new workers boot (0/2 then 2/2 is fine).
  assert.match(reload.stdout, /^(?:[012]\/2 workers replaced\n)+reload done: 2 workers serving\n$/);
  assert.ok(p.readyWorkers().every((pid) => !before.has(pid)));
  const scale = await runClient(['scale', '3', '--control', control]);
  assert.equal(scale.code, 0, scale.stderr);
  assert.match(scale.stdout, /3\/3 workers ready\n3 workers serving/);
  assert.equal(p.readyWorkers().length, 3);
  const stop = await runClient(['stop', '--control', control]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /stopping/);
  assert.match(stop.stdout, /stopped\n$/);
  assert.equal((await p.exited).code, 0);
});

test('metrics over TCP; the master serves them, not the workers', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  const at = String((await p.waitForEvent('metrics-listening')).address);
  const url = new URL(at);
  await request(target);
  await sleep(1200);
  const m = await metrics({ host: url.hostname, port: Number(url.port) });
  assert.equal(m.get('prefork_http_requests_total{status_class="2xx"}'), 1);
  assert.ok([...m.keys()].some((k) => k.startsWith('prefork_worker_rss_bytes{worker="0"')));
  assert.ok([...m.keys()].some((k) => k.startsWith('prefork_worker_event_loop_lag_seconds{worker="1"')));
});

test('control client errors: no --control is exit 2, a master that is gone is exit 1', async (t) => {
  const none = await runClient(['status']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /status needs --control PATH/);
  const dir = tempDir(t);
  const gone = await runClient(['status', '--control', join(dir, 'nothing.sock')]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /cannot reach the master at .*nothing.sock: no such socket/);
  const badScale = await runClient(['scale', 'many', '--control', join(dir, 'x.sock')]);
  assert.equal(badScale.code, 2);
  const abstract = await runPrefork(t, ['--control', 'unix:@ctl', app('pid.cjs')]);
  assert.equal(abstract.code, 2);
  assert.match(abstract.stderr, /invalid --control "unix:@ctl": expected a unix socket path/);
});
