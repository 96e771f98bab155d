import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  app,
  distinctPids,
  eventually,
  isAlive,
  request,
  startPrefork,
  tempDir,
  inheritableSocket,
} from '../helpers/prefork.js';

test('two workers both accept on one TCP socket the master bound', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  const pids = await distinctPids(target, 2);
  assert.equal(pids.size, 2, `expected 2 worker pids, got ${[...pids].join(', ')}`);
  assert.ok(![...pids].includes(p.pid), 'the master must not serve requests');
  for (const pid of pids) assert.ok(p.readyWorkers().includes(pid));
  assert.deepEqual((await p.stop()).code, 0);
});

test('a unix socket and a TCP port serve the same app; mode 0660; the file goes on SIGTERM', async (t) => {
  const dir = tempDir(t);
  const sock = join(dir, 'app.sock');
  const p = startPrefork(t, ['-w', '2', '-b', `unix:${sock}`, '-b', '127.0.0.1:0', app('pid.cjs')]);
  await p.ready();
  const [unix, tcp] = p.targets();
  assert.deepEqual(unix, { socketPath: sock });
  assert.equal(statSync(sock).mode & 0o777, 0o660);
  assert.equal((await distinctPids(unix!, 2)).size, 2, 'both workers serve the unix socket');
  assert.equal((await request(tcp!)).status, 200);
  const exit = await p.stop('SIGTERM');
  assert.equal(exit.code, 0);
  assert.equal(existsSync(sock), false, 'socket file removed on a clean stop');
});

test('--socket-mode applies from creation; unix:// URL form and relative paths', async (t) => {
  const dir = tempDir(t);
  const p = startPrefork(
    t,
    [
      '-w',
      '1',
      '-b',
      `unix://${join(dir, 'url.sock')}`,
      '-b',
      'unix:rel.sock',
      '--socket-mode',
      '0600',
      app('pid.cjs'),
    ],
    { cwd: dir },
  );
  await p.ready();
  assert.equal(statSync(join(dir, 'url.sock')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'rel.sock')).mode & 0o777, 0o600);
  assert.equal((await request({ socketPath: join(dir, 'rel.sock') })).status, 200);
  assert.equal((await p.stop()).code, 0);
  assert.equal(existsSync(join(dir, 'rel.sock')), false);
  assert.equal(existsSync(join(dir, 'url.sock')), false);
});

test('[::1]:PORT serves over IPv6', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '[::1]:0', app('pid.cjs')]);
  const target = await p.ready();
  assert.equal(target.host, '::1');
  assert.equal((await request(target)).status, 200);
});

test('fd://N serves an inherited listening socket', async (t) => {
  const { fd, port, close } = await inheritableSocket(t);
  const p = startPrefork(t, ['-w', '2', '-b', 'fd://3', app('pid.cjs')], { extraFds: [fd] });
  await p.ready();
  // From here on only prefork holds the socket: connections can reach nobody but its workers.
  await close();
  assert.match(String(p.logs.find((l) => l.event === 'listening')?.address), new RegExp(`:${port} \\(fd://3\\)`));
  assert.equal((await distinctPids({ host: '127.0.0.1', port }, 2)).size, 2);
  assert.equal((await p.stop()).code, 0);
});

test('a worker that dies is replaced in its slot while the socket stays open', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  const victim = p.workerEvents('ready')[0]!;
  let failures = 0;
  let stop = false;
  const load = (async () => {
    while (!stop) await request(target, { headers: { connection: 'close' } }).catch(() => (failures += 1));
  })();
  process.kill(Number(victim.workerPid), 'SIGKILL');
  const replaced = await p.waitForLog(
    (l) =>
      l.event === 'worker' && l.state === 'ready' && l.worker === victim.worker && l.workerPid !== victim.workerPid,
  );
  stop = true;
  await load;
  assert.equal(failures, 0, 'no refused connection while a worker was replaced');
  const exited = p.logs.find((l) => l.event === 'worker' && l.state === 'exited' && l.workerPid === victim.workerPid);
  assert.match(String(exited?.reason), /SIGKILL/);
  await eventually(
    async () => (await distinctPids(target, 2)).has(Number(replaced.workerPid)),
    5000,
    'the replacement to serve',
  );
});

test('PREFORK_WORKER_ID is the worker slot 0..N-1 and process titles carry --name', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--name', 'shop', app('pid.cjs')]);
  const target = await p.ready();
  const seen = new Map<string, string>();
  for (let i = 0; i < 400 && seen.size < 2; i += 1) {
    const body = (await request(target, { headers: { connection: 'close' } })).json<{
      worker: string;
      title: string;
    }>();
    seen.set(body.worker, body.title);
  }
  assert.deepEqual([...seen.keys()].sort(), ['0', '1']);
  assert.equal(seen.get('0'), 'prefork worker 0 [shop]');
  assert.equal(seen.get('1'), 'prefork worker 1 [shop]');
  const cmdline = await import('node:fs').then((fs) => fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8'));
  assert.match(cmdline, /^prefork master \[shop\]/);
});

test('the master never binds for a worker (cluster queryServer is refused)', async (t) => {
  const dir = tempDir(t);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  type Bound = { bound: boolean; code?: string };
  // UDP goes through node:cluster's queryServer: the master refuses it.
  const udp = (await request(target, { path: '/udp?port=0' })).json<Bound>();
  assert.deepEqual({ bound: udp.bound, code: udp.code }, { bound: false, code: 'EACCES' });
  await p.waitForEvent('bind-refused');
  // TCP and unix listen() never reach the master: the worker's first one is the app's own
  // (drop-in mode: a no-op here, as the module exports an app), later ones are refused in the worker.
  assert.equal((await request(target, { path: '/bind?port=0' })).json<Bound>().bound, true);
  await p.waitForEvent('listen-ignored');
  const tcp = (await request(target, { path: '/bind?port=0' })).json<Bound>();
  assert.deepEqual({ bound: tcp.bound, code: tcp.code }, { bound: false, code: 'ERR_PREFORK_LISTEN' });
  const unixPath = join(dir, 'worker-asked.sock');
  const unix = (await request(target, { path: `/bind?path=${encodeURIComponent(unixPath)}` })).json<Bound>();
  assert.deepEqual({ bound: unix.bound, code: unix.code }, { bound: false, code: 'ERR_PREFORK_LISTEN' });
  assert.equal(existsSync(unixPath), false);
});

test('SIGUSR1 never opens the Node inspector in the master or a worker', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const target = await p.ready();
  const worker = Number(p.workerEvents('ready')[0]!.workerPid);
  p.signal('SIGUSR1');
  process.kill(worker, 'SIGUSR1');
  await new Promise((done) => setTimeout(done, 300));
  const inspector = await new Promise<boolean>((done) => {
    const s = net.connect(9229, '127.0.0.1');
    s.once('connect', () => (s.destroy(), done(true)));
    s.once('error', () => done(false));
  });
  assert.equal(inspector, false, 'something listens on 9229');
  assert.ok(isAlive(p.pid) && isAlive(worker));
  assert.equal((await request(target)).status, 200);
  assert.ok(!p.stderr.includes('Debugger listening'));
});

test('--access-log writes one line per request; none without it', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--access-log', app('pid.cjs')]);
  const target = await p.ready();
  await request(target, { path: '/hello?x=1' });
  const line = await p.waitForEvent('access');
  assert.equal(line.method, 'GET');
  assert.equal(line.path, '/hello?x=1');
  assert.equal(line.status, 200);
  assert.equal(line.worker, 0);
  assert.equal(typeof line.ms, 'number');

  const quiet = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')]);
  const quietTarget = await quiet.ready();
  await request(quietTarget);
  await quiet.stop();
  assert.equal(quiet.logs.filter((l) => l.event === 'access').length, 0);
});

test('lifecycle events are logged: listening, worker states, ready, stopping, stopped', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
  await p.ready();
  await p.stop();
  const events = p.logs
    .filter((l) => l.role === 'master')
    .map((l) => (l.event === 'worker' ? `worker:${String(l.state)}` : l.event));
  for (const e of [
    'listening',
    'worker:booting',
    'worker:ready',
    'ready',
    'stopping',
    'worker:draining',
    'worker:exited',
    'stopped',
  ]) {
    assert.ok(events.includes(e), `missing ${e} in ${events.join(' ')}`);
  }
  assert.equal(p.workerEvents('exited').length, 2);
});
