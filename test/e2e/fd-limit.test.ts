import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { CLI, ROOT, app, request, sleep, track } from '../helpers/prefork.js';

/** Opens `count` connections and keeps them; the ones the server resets or refuses are simply counted out. */
async function flood(port: number, count: number): Promise<net.Socket[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Socket | null>((resolve) => {
          const socket = net.connect({ host: '127.0.0.1', port });
          socket.once('connect', () => resolve(socket));
          socket.on('error', () => resolve(null));
        }),
    ),
  );
  return sockets.filter((s): s is net.Socket => s !== null);
}

test('under ulimit -n 64, a connection flood: the worker survives EMFILE in its heartbeat and accepts, and serves again', async (t) => {
  // The limit applies to the master and, inherited, to its workers.
  const args = [CLI, '-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')];
  const child = spawn('bash', ['-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, ...args], {
    cwd: ROOT,
    env: { ...process.env, PREFORK_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = track(t, child);
  const target = await p.ready();
  const [worker] = p.readyWorkers();
  assert.ok(worker !== undefined && target.port !== undefined);

  const sockets = await flood(target.port, 300);
  t.after(() => sockets.forEach((s) => s.destroy()));
  // More than two heartbeats (one a second) while every descriptor is taken.
  await sleep(2500);
  for (const s of sockets) s.destroy();
  await sleep(200);

  const errors = JSON.stringify(p.logs.filter((l) => Number(l.level) >= 50));
  const reply = await request(target, { headers: { connection: 'close' } });
  assert.equal(reply.status, 200);
  assert.equal(reply.json<{ pid: number }>().pid, worker, `the same worker serves after the flood; errors: ${errors}`);
  assert.deepEqual(p.workerEvents('exited'), [], 'no worker exited');
  assert.ok(!p.logs.some((l) => l.event === 'uncaught-exception'), 'nothing uncaught');
  // The flood did take every descriptor: the memory reading failed, and said so once, not once a beat.
  const failed = p.logs.filter((l) => l.event === 'housekeeping-failed');
  assert.equal(failed.length, 1, JSON.stringify(failed));
  assert.deepEqual([failed[0]?.chore, failed[0]?.pid], ['memory reading', worker]);
  assert.match(String(failed[0]?.reason), /EMFILE/);
  assert.equal((await p.stop()).code, 0);
});
