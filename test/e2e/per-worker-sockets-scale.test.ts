import assert from 'node:assert/strict';
import { copyFileSync, existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, isAlive, request, runClient, sleep, startPrefork, tempDir } from '../helpers/prefork.js';
import { upgrade, waitLog } from '../helpers/upgrade.js';
import { WORKER_ID_APP, freeBase, sock, who } from '../helpers/per-worker.js';

// Per-worker binds ({worker}): TTIN/TTOU, status, hot upgrade.

interface StatusJson {
  master: { binds: string[] };
  workers: Array<{ id: number; pid: number; state: string; addresses: string[] }>;
}

test('TTIN binds web-2.sock for slot 2, TTOU drains slot 2 and removes its file once the worker exited; status shows each worker its own address', async (t) => {
  const dir = tempDir(t);
  const control = join(dir, 'ctl.sock');
  const metrics = { socketPath: join(dir, 'metrics.sock') };
  const p = startPrefork(t, [
    ...['-w', '2', '-b', `unix:${dir}/web-{worker}.sock`, '--control', control],
    ...['--metrics-bind', `unix:${metrics.socketPath}`, WORKER_ID_APP],
  ]);
  await p.ready();
  assert.equal(existsSync(join(dir, 'web-2.sock')), false);

  p.signal('SIGTTIN');
  await p.waitForEvent('worker', (l) => l.worker === 2 && l.state === 'ready');
  const listening = await p.waitForEvent('listening', (l) => l.worker === 2);
  assert.equal(listening.address, `unix:${dir}/web-2.sock`);
  const third = await who(sock(dir, 2));
  assert.equal(third.worker, '2');

  const status = JSON.parse((await runClient(['status', '--control', control, '--json'])).stdout) as StatusJson;
  assert.deepEqual(status.master.binds, [`unix:${dir}/web-{worker}.sock`]);
  assert.deepEqual(
    status.workers.map((w) => [w.id, w.addresses]),
    [0, 1, 2].map((i) => [i, [`unix:${dir}/web-${i}.sock`]]),
  );
  const table = (await runClient(['status', '--control', control])).stdout;
  assert.match(table, /ADDRESS/);
  for (const i of [0, 1, 2]) assert.match(table, new RegExp(`\\n${i} .*unix:${dir}/web-${i}\\.sock`));
  const text = (await request(metrics, { path: '/metrics' })).body;
  for (const w of status.workers) {
    const line = `prefork_worker_socket_info{worker="${w.id}",pid="${w.pid}",address="unix:${dir}/web-${w.id}.sock"} 1`;
    assert.ok(text.includes(line), `metrics: ${line}`);
  }

  p.signal('SIGTTOU');
  await p.waitForEvent('worker', (l) => l.workerPid === third.pid && l.state === 'exited');
  const closed = await p.waitForEvent('socket-closed', (l) => l.worker === 2);
  assert.equal(closed.address, `unix:${dir}/web-2.sock`);
  assert.equal(existsSync(join(dir, 'web-2.sock')), false, 'web-2.sock is gone');
  assert.equal((await who(sock(dir, 1))).worker, '1', 'the other slots serve on');

  // Back up: the slot binds afresh.
  p.signal('SIGTTIN');
  await p.waitForEvent('worker', (l) => l.worker === 2 && l.state === 'ready' && l.workerPid !== third.pid);
  assert.equal((await who(sock(dir, 2))).worker, '2');
  assert.equal((await p.stop()).code, 0);
  assert.deepEqual(readdirSync(dir), [], 'stop removed every per-worker socket file (and the control socket)');
});

test('TTIN past port 65535 is refused with a warning; the pool stays as it was', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:{65535+worker}', WORKER_ID_APP]);
  await p.ready();
  p.signal('SIGTTIN');
  const refused = await p.waitForEvent('scale-refused');
  assert.match(String(refused.reason), /worker 1: its port would be 65536; ports go up to 65535/);
  assert.equal(p.logs.filter((l) => l.event === 'scale').length, 0, 'no scale happened');
  assert.equal((await who({ host: '127.0.0.1', port: 65535 })).worker, '0');
  assert.equal((await p.stop()).code, 0);
});

test('hot upgrade (USR2): the new master takes each per-worker socket over (same inode), and closes a slot its config has no room for', async (t) => {
  const dir = tempDir(t);
  const base = await freeBase(3);
  const p = startPrefork(t, [
    '-w',
    '2',
    '-b',
    `unix:${dir}/web-{worker}.sock`,
    '-b',
    `127.0.0.1:{${base}+worker}`,
    WORKER_ID_APP,
  ]);
  await p.ready();
  // Slot 2 exists only in the old master (TTIN); the new one starts with -w 2.
  p.signal('SIGTTIN');
  await p.waitForEvent('worker', (l) => l.worker === 2 && l.state === 'ready');
  const inodes = [0, 1, 2].map((i) => lstatSync(join(dir, `web-${i}.sock`)).ino);
  const newPid = await upgrade(t, p);
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid, 20_000, 'took-over');
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  for (const slot of [0, 1]) {
    const w = await who(sock(dir, slot));
    assert.equal(w.worker, String(slot));
    assert.equal((await who({ host: '127.0.0.1', port: base + slot })).worker, String(slot));
    assert.equal(lstatSync(join(dir, `web-${slot}.sock`)).ino, inodes[slot], `web-${slot}.sock is the same socket`);
    const served = p.logs.find((l) => l.event === 'worker' && l.workerPid === w.pid && l.pid === newPid);
    assert.ok(served, `a new master's worker serves slot ${slot}`);
  }
  const taken = p.logs.filter((l) => l.event === 'listening' && l.pid === newPid && l.worker !== undefined);
  assert.ok(
    taken.every((l) => l.inherited === true),
    'every per-worker socket was handed over, none bound afresh',
  );
  await eventually(() => !existsSync(join(dir, 'web-2.sock')), 5000, 'web-2.sock to be removed');
  process.kill(newPid, 'SIGTERM');
  await eventually(() => !isAlive(newPid), 15_000, 'the new master to stop');
  assert.deepEqual(readdirSync(dir), [], 'the last master removed every per-worker socket file');
});

test("--reload ignores the per-worker socket files in the app's directory, also those TTIN and TTOU create and remove", async (t) => {
  const dir = tempDir(t);
  copyFileSync(WORKER_ID_APP, join(dir, 'app.cjs'));
  const p = startPrefork(t, ['-w', '1', '-b', `unix:${dir}/web-{worker}.sock`, '--reload', join(dir, 'app.cjs')]);
  await p.ready();
  p.signal('SIGTTIN');
  await p.waitForEvent('worker', (l) => l.worker === 1 && l.state === 'ready');
  p.signal('SIGTTOU');
  await p.waitForEvent('socket-closed', (l) => l.worker === 1);
  await sleep(700);
  assert.equal(p.logs.filter((l) => l.event === 'reload-change').length, 0, 'no restart for our own files');
  // The watcher itself still works.
  writeFileSync(join(dir, 'app.cjs'), readFileSync(WORKER_ID_APP, 'utf8'));
  await p.waitForEvent('reload-change');
  assert.equal((await p.stop()).code, 0);
});

test(
  "--socket-owner gives every slot's socket, also one TTIN binds later, to the owner",
  { skip: process.getuid?.() === 0 ? false : 'needs root to give files away' },
  async (t) => {
    const dir = tempDir(t);
    const p = startPrefork(t, [
      '-w',
      '1',
      '-b',
      `unix:${dir}/web-{worker}.sock`,
      '--socket-owner',
      ':www-data',
      WORKER_ID_APP,
    ]);
    await p.ready();
    p.signal('SIGTTIN');
    await p.waitForEvent('worker', (l) => l.worker === 1 && l.state === 'ready');
    for (const slot of [0, 1]) {
      const stats = lstatSync(join(dir, `web-${slot}.sock`));
      assert.deepEqual([stats.uid, stats.gid], [0, 33], `web-${slot}.sock: group www-data`);
    }
    assert.equal((await p.stop()).code, 0);
  },
);
