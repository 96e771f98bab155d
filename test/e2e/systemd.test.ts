import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  APPS,
  CLI,
  type Prefork,
  ROOT,
  track,
  app,
  distinctPids,
  eventually,
  request,
  startPrefork,
  tempDir,
} from '../helpers/prefork.js';
import { childrenOf, stopMaster, upgrade, waitLog } from '../helpers/upgrade.js';

interface Datagram {
  t: number;
  data: string;
  fields: Record<string, string>;
}

/** A real AF_UNIX datagram receiver standing in for systemd: records what arrives and when. */
async function notifyReceiver(
  t: TestContext,
  address: string,
): Promise<{ got: Datagram[]; waitFor: (pred: (d: Datagram) => boolean, what: string) => Promise<Datagram> }> {
  const child = spawn('python3', [join(ROOT, 'test/fixtures/notify-receiver.py'), address], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  const got: Datagram[] = [];
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'listening') resolve();
        else if (line.startsWith('{')) {
          const d = JSON.parse(line) as { t: number; data: string };
          got.push({
            ...d,
            fields: Object.fromEntries(
              d.data
                .split('\n')
                .filter(Boolean)
                .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
            ),
          });
        }
      }
    });
  });
  const waitFor = async (pred: (d: Datagram) => boolean, what: string): Promise<Datagram> => {
    await eventually(() => got.some(pred), 10_000, what);
    return got.find(pred)!;
  };
  return { got, waitFor };
}

test('Type=notify: READY=1 with MAINPID and STATUS once all workers serve; RELOADING around HUP; STOPPING', async (t) => {
  const socket = join(tempDir(t), 'notify.sock');
  const rx = await notifyReceiver(t, socket);
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')], { env: { NOTIFY_SOCKET: socket } });
  await p.ready();
  const ready = await rx.waitFor((d) => d.fields.READY === '1', 'READY=1');
  assert.equal(ready.fields.MAINPID, String(p.pid));
  assert.match(ready.fields.STATUS ?? '', /^2 workers serving http:\/\/127\.0\.0\.1:\d+$/);
  const lastWorkerReady = Math.max(...p.workerEvents('ready').map((l) => Number(l.time)));
  assert.ok(ready.t >= lastWorkerReady, 'READY=1 arrived before every worker was serving');

  p.signal('SIGHUP');
  const reloading = await rx.waitFor((d) => d.fields.RELOADING === '1', 'RELOADING=1');
  assert.match(reloading.fields.MONOTONIC_USEC ?? '', /^\d+$/);
  const readyAgain = await rx.waitFor((d) => d.fields.READY === '1' && d.t > reloading.t, 'READY=1 after the reload');
  assert.ok(readyAgain.t >= Number((await p.waitForEvent('reload-done')).time));

  await p.stop('SIGTERM');
  await rx.waitFor((d) => d.fields.STOPPING === '1', 'STOPPING=1');
  // systemd-notify follows each message with BARRIER=1, the handshake that waits for systemd.
  const order = rx.got.map((d) => Object.keys(d.fields)[0]).filter((k) => k !== 'BARRIER');
  assert.deepEqual(order, ['READY', 'RELOADING', 'READY', 'STOPPING']);
});

test('two HUPs in quick succession: one RELOADING=1, then READY=1 once the coalesced reload is done', async (t) => {
  const socket = join(tempDir(t), 'notify.sock');
  const rx = await notifyReceiver(t, socket);
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')], { env: { NOTIFY_SOCKET: socket } });
  await p.ready();
  await rx.waitFor((d) => d.fields.READY === '1', 'READY=1');
  p.signal('SIGHUP');
  await p.waitForEvent('reload');
  p.signal('SIGHUP');
  await eventually(() => p.logs.filter((l) => l.event === 'reload').length === 2, 5000, 'the second reload');
  const done = await p.waitForEvent('reload-done', () => true, 15_000);
  assert.ok(
    p.logs.indexOf(done) > p.logs.findLastIndex((l) => l.event === 'reload'),
    'reload-done before the last reload',
  );
  await rx.waitFor((d) => d.fields.READY === '1' && d.t >= Number(done.time), 'READY=1 after the reloads');
  await p.stop('SIGTERM');
  await rx.waitFor((d) => d.fields.STOPPING === '1', 'STOPPING=1');
  const order = rx.got.map((d) => Object.keys(d.fields)[0]).filter((k) => k !== 'BARRIER');
  assert.deepEqual(order, ['READY', 'RELOADING', 'READY', 'STOPPING']);
});

test('an abstract NOTIFY_SOCKET (@name) works, and WATCHDOG=1 comes every half WATCHDOG_USEC', async (t) => {
  const name = `@prefork-notify-${process.pid}-${Date.now()}`;
  const rx = await notifyReceiver(t, name);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')], {
    env: { NOTIFY_SOCKET: name, WATCHDOG_USEC: '400000' },
  });
  const target = await p.ready();
  await rx.waitFor((d) => d.fields.READY === '1', 'READY=1');
  await eventually(() => rx.got.filter((d) => d.fields.WATCHDOG === '1').length >= 3, 5000, '3 watchdog pings');
  const env = (await request(target, { path: '/env' })).json<{ env: Record<string, string | null> }>().env;
  assert.equal(env.NOTIFY_SOCKET, null, "workers must not see the master's NOTIFY_SOCKET");
  assert.equal(env.WATCHDOG_USEC, null);
});

/** Runs prefork under systemd-socket-activate, which binds and passes the sockets as fds 3... */
function socketActivated(t: TestContext, listen: string[], args: string[]): { child: ChildProcess; prefork: Prefork } {
  const child = spawn(
    'systemd-socket-activate',
    [
      ...listen.flatMap((l) => ['-l', l]),
      '--fdname=web:local',
      '-E',
      'PREFORK_LOG_FORMAT=json',
      process.execPath,
      CLI,
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const prefork = track(t, child);
  return { child, prefork };
}

test('socket activation: a TCP port and a unix path from systemd, 2 workers serve both, the file stays', async (t) => {
  const dir = tempDir(t);
  const sock = join(dir, 'activated.sock');
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as net.AddressInfo;
      s.close(() => resolve(p));
    });
  });
  const { prefork } = socketActivated(t, [`127.0.0.1:${port}`, sock], ['-w', '2', join(APPS, 'pid.cjs')]);
  // systemd-socket-activate starts the service on the first connection, as systemd does.
  const first = await firstRequest(sock, '/env');
  assert.equal(first.status, 200);
  await prefork.ready();
  const listening = prefork.logs.filter((l) => l.event === 'listening');
  assert.deepEqual(
    listening.map((l) => l.systemd),
    ['systemd socket web', 'systemd socket local'],
  );
  assert.ok(!listening.some((l) => String(l.address).includes('8000')), 'no default bind under socket activation');
  const env = first.json<{ env: Record<string, string | null> }>().env;
  assert.equal(env.LISTEN_FDS, null, 'LISTEN_* must not reach the workers');
  assert.equal(env.LISTEN_PID, null);
  assert.equal((await distinctPids({ host: '127.0.0.1', port }, 2)).size, 2);
  assert.equal((await distinctPids({ socketPath: sock }, 2)).size, 2);
  const inode = lstatSync(sock).ino;
  prefork.signal('SIGTERM');
  await prefork.waitForEvent('stopped');
  assert.equal(lstatSync(sock).ino, inode, "systemd's socket file must not be removed");
});

/**
 * The request that makes systemd-socket-activate start prefork. Its socket file exists from
 * bind(), and it listens a moment later: until then a connect is refused, so that is retried.
 */
async function firstRequest(socketPath: string, path = '/'): Promise<Awaited<ReturnType<typeof request>>> {
  let response: Awaited<ReturnType<typeof request>> | null = null;
  await eventually(
    async () => {
      if (!existsSync(socketPath)) return false;
      response = await request({ socketPath }, { path, timeoutMs: 15_000 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') return null;
        throw err;
      });
      return response !== null;
    },
    5000,
    'systemd-socket-activate to listen',
  );
  return response!;
}

/** One socket from systemd plus one --bind of our own, started by a first request, as systemd does. */
async function activatedPlusBind(t: TestContext): Promise<{ prefork: Prefork; activated: string; extra: string }> {
  const dir = tempDir(t);
  const activated = join(dir, 'activated.sock');
  const extra = join(dir, 'extra.sock');
  const { prefork } = socketActivated(t, [activated], ['-w', '1', '-b', `unix:${extra}`, join(APPS, 'pid.cjs')]);
  assert.equal((await firstRequest(activated)).status, 200);
  await prefork.ready();
  return { prefork, activated, extra };
}

test('socket activation plus an explicit --bind serves both', async (t) => {
  const { prefork, activated, extra } = await activatedPlusBind(t);
  assert.equal((await request({ socketPath: extra })).status, 200);
  prefork.signal('SIGTERM');
  await prefork.waitForEvent('stopped');
  assert.equal(existsSync(extra), false, 'our own socket file is removed');
  assert.equal(existsSync(activated), true, "systemd's is not");
});

test('systemd/prefork.service and prefork.socket pass systemd-analyze verify without a warning', () => {
  const dir = join(ROOT, 'systemd');
  const r = spawnSync(
    'systemd-analyze',
    ['verify', '--man=no', join(dir, 'prefork.socket'), join(dir, 'prefork.service')],
    { encoding: 'utf8' },
  );
  assert.equal(r.error, undefined, 'systemd-analyze is missing (Debian package systemd)');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', r.stderr);
  const service = readFileSync(join(dir, 'prefork.service'), 'utf8');
  for (const line of [
    'Type=notify',
    'NotifyAccess=all',
    'KillMode=mixed',
    'ExecReload=/bin/kill -HUP $MAINPID',
    'RuntimeDirectory=',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
  ]) {
    assert.ok(service.includes(line), `prefork.service lacks ${line}`);
  }
  const stopSec = Number(/TimeoutStopSec=(\d+)/.exec(service)?.[1]);
  const grace = Number(/--graceful-timeout (\d+)/.exec(service)?.[1]);
  const delay = Number(/--shutdown-delay (\d+)/.exec(service)?.[1] ?? 0);
  assert.ok(stopSec > grace + delay, 'TimeoutStopSec must exceed graceful timeout plus shutdown delay');
});

test('hot upgrade under Type=notify: the new master sends MAINPID= and READY=1 before the old one exits, which never sends STOPPING=1', async (t) => {
  const socket = join(tempDir(t), 'notify.sock');
  const rx = await notifyReceiver(t, socket);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')], { env: { NOTIFY_SOCKET: socket } });
  const target = await p.ready();
  await rx.waitFor(
    (d) => d.fields.READY === '1' && d.fields.MAINPID === String(p.pid),
    'READY=1 from the first master',
  );
  const newPid = await upgrade(t, p);
  const handed = await rx.waitFor(
    (d) => d.fields.READY === '1' && d.fields.MAINPID === String(newPid),
    'READY=1 with the new MAINPID',
  );
  assert.match(handed.fields.STATUS ?? '', /^1 workers serving http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await p.exited).code, 0);
  const stopped = p.logs.find((l) => l.event === 'stopped' && l.pid === p.pid);
  assert.ok(handed.t <= Number(stopped?.time), 'systemd learned the new main pid before the old one exited');
  const order = () => rx.got.map((d) => Object.keys(d.fields)[0]).filter((k) => k !== 'BARRIER');
  assert.deepEqual(
    order(),
    ['READY', 'READY'],
    'no STOPPING=1 from the old master, nothing from the new one before it took over',
  );
  assert.equal((await request(target)).status, 200);
  await stopMaster(p, newPid);
  await rx.waitFor((d) => d.fields.STOPPING === '1', 'STOPPING=1 from the new master');
  assert.deepEqual(order(), ['READY', 'READY', 'STOPPING']);
});

test('socket activation and hot upgrade: the sockets systemd passed go to the new master by name; its file is never removed, ours is by the last master', async (t) => {
  const { prefork, activated, extra } = await activatedPlusBind(t);
  const [activatedInode, extraInode] = [lstatSync(activated).ino, lstatSync(extra).ino];
  const newPid = await upgrade(t, prefork);
  await waitLog(prefork, (l) => l.event === 'took-over' && l.pid === newPid);
  assert.equal((await prefork.exited).code, 0);
  const listening = prefork.logs.filter((l) => l.event === 'listening' && l.pid === newPid);
  assert.deepEqual(
    listening.map((l) => [l.systemd ?? null, l.inherited]),
    [
      ['systemd socket web', true],
      [null, true],
    ],
  );
  for (const sock of [activated, extra]) {
    const reply = (await request({ socketPath: sock })).json<{ pid: number }>();
    assert.deepEqual(childrenOf(newPid), [reply.pid], `${sock} is served by the new master's worker`);
  }
  assert.deepEqual([lstatSync(activated).ino, lstatSync(extra).ino], [activatedInode, extraInode]);
  await stopMaster(prefork, newPid);
  assert.equal(lstatSync(activated).ino, activatedInode, "systemd's socket file must not be removed");
  assert.equal(existsSync(extra), false, 'the file the chain created is removed by the last master');
});
