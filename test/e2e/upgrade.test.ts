import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, eventually, isAlive, load, request, sleep, startPrefork, tempDir } from '../helpers/prefork.js';
import {
  childrenOf,
  deploy,
  failures,
  servedBy,
  startRelease,
  stopMaster,
  twoReleases,
  upgrade,
  waitLog,
} from '../helpers/upgrade.js';

// Hot upgrades that go through; upgrade-failures.test.ts has the failed, refused and interrupted ones.

for (const keepAlive of [true, false]) {
  const kind = keepAlive ? 'keep-alive' : 'Connection: close';
  test(`SIGUSR2 under ${kind} load over TCP and a unix socket: 0 failed, the pidfile names the new master, the old one and its workers are gone, the socket file is the same inode`, async (t) => {
    const dir = tempDir(t);
    const sock = join(dir, 'app.sock');
    const pidfile = join(dir, 'app.pid');
    const p = startPrefork(t, [
      '-w',
      '2',
      '-b',
      '127.0.0.1:0',
      '-b',
      `unix:${sock}`,
      '--pidfile',
      pidfile,
      app('pid.cjs'),
    ]);
    const tcp = await p.ready();
    const inode = lstatSync(sock).ino;
    const oldWorkers = p.readyWorkers();
    assert.equal(oldWorkers.length, 2);

    let finish = (): void => {};
    const finished = new Promise<void>((done) => (finish = done));
    const loads = [
      load(tcp, { until: finished, concurrency: 4, keepAlive }),
      load({ socketPath: sock }, { until: finished, concurrency: 4, keepAlive }),
    ];
    await sleep(300);
    const newPid = await upgrade(t, p);
    await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid, 20_000, 'took-over');
    assert.deepEqual(await p.exited, { code: 0, signal: null }, 'the old master exits 0 once its workers drained');
    const newWorkers = childrenOf(newPid);
    assert.equal(newWorkers.length, 2, 'the new master runs its own 2 workers');
    // Load against the new master alone for a moment, then stop.
    await sleep(300);
    finish();
    const results = await Promise.all(loads);
    for (const r of results) {
      assert.equal(r.failed, 0, `failures: ${failures(r)}`);
      assert.ok(servedBy(r, oldWorkers) > 0, 'the old workers served before the hand-over');
      assert.ok(servedBy(r, newWorkers) > 0, 'the new workers served after it');
      assert.equal(
        servedBy(r, oldWorkers) + servedBy(r, newWorkers),
        r.ok,
        'every reply came from one generation or the other',
      );
    }
    t.diagnostic(
      `${kind}: ${results.map((r) => `${r.ok} ok (old ${servedBy(r, oldWorkers)}, new ${servedBy(r, newWorkers)}), ${r.failed} failed`).join('; ')}`,
    );

    assert.equal(readFileSync(pidfile, 'utf8'), `${newPid}\n`, 'the pidfile names the new master');
    assert.equal(readFileSync(join(`${pidfile}.lock`, 'pid'), 'utf8'), `${newPid}\n`, 'and so does its lock');
    for (const w of oldWorkers) await eventually(() => !isAlive(w), 5000, `old worker ${w} to exit`);
    assert.equal(lstatSync(sock).ino, inode, 'the unix socket file was never removed or recreated');
    const old = p.logs.filter((l) => l.pid === p.pid);
    assert.ok(
      !old.some((l) => l.event === 'socket-removed' || l.event === 'pidfile-removed'),
      'the old master removed nothing',
    );
    assert.equal(p.logs.filter((l) => l.event === 'pidfile-lock-compromised').length, 0);

    // `kill -HUP $(cat pidfile)` reaches the live master.
    process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGHUP');
    await waitLog(p, (l) => l.event === 'reload-done' && l.pid === newPid, 20_000, 'reload-done from the new master');
    assert.equal((await request({ socketPath: sock })).status, 200);

    // The chain's files go with the last master's clean stop.
    assert.equal((await stopMaster(p, newPid)).code, 0);
    assert.equal(existsSync(sock), false, 'the last master removes the socket file');
    assert.equal(existsSync(pidfile), false, 'and the pidfile');
    assert.equal(existsSync(`${pidfile}.lock`), false, 'and its lock');
  });
}

test('upgrades chain: the second new master inherits from the first, the socket file stays until the last one stops', async (t) => {
  const dir = tempDir(t);
  const sock = join(dir, 'app.sock');
  const p = startPrefork(t, ['-w', '1', '-b', `unix:${sock}`, app('pid.cjs')]);
  await p.ready();
  const inode = lstatSync(sock).ino;
  const first = await upgrade(t, p);
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === first);
  assert.equal((await p.exited).code, 0);
  const second = await upgrade(t, p, first);
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === second && l.from === first);
  await eventually(() => !isAlive(first), 10_000, 'the first new master to leave');
  assert.equal(lstatSync(sock).ino, inode);
  const reply = (await request({ socketPath: sock })).json<{ pid: number }>();
  assert.deepEqual(childrenOf(second), [reply.pid], "served by the second new master's worker");
  assert.equal((await stopMaster(p, second)).code, 0);
  assert.equal(existsSync(sock), false);
});

test("a symlink deploy (current -> releases/N) plus SIGUSR2: the new master runs the new release's Node binary, prefork code and app, with the same Node flags", async (t) => {
  const dir = twoReleases(t);
  const p = startRelease(t, dir, ['-w', '2', '-b', '127.0.0.1:0', 'app.cjs'], ['--max-old-space-size=200']);
  const target = await p.ready();
  const before = (await request(target)).json<Record<string, unknown>>();
  assert.equal(before.version, '1');
  assert.equal(before.release, '1');
  assert.equal(before.execPath, join(dir, 'releases/1/bin/node'));

  deploy(dir, '2');
  let finish = (): void => {};
  const running = load(target, { until: new Promise<void>((done) => (finish = done)), concurrency: 4 });
  const newPid = await upgrade(t, p);
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid, 20_000, 'took-over');
  assert.equal((await p.exited).code, 0);
  finish();
  const r = await running;
  assert.equal(r.failed, 0, `failures: ${failures(r)}`);

  const after = (await request(target)).json<Record<string, unknown>>();
  assert.equal(after.version, '2', "the new release's app");
  assert.equal(after.release, '2', "the new release's prefork code (its cli.mjs)");
  assert.equal(after.execPath, join(dir, 'releases/2/bin/node'), 'the Node binary current/bin/node points to now');
  assert.equal(after.cwd, join(dir, 'releases/2'), 'the working directory follows the link');
  assert.deepEqual(after.execArgv, ['--max-old-space-size=200'], 'Node flags carry over');
  const started = p.logs.find((l) => l.event === 'upgrade-started')!;
  assert.equal(
    (started.command as string[])[0],
    join(dir, 'current/bin/node'),
    'started by the name the operator used',
  );
});

test("a relative unix:app.sock in a symlink deploy: the new release binds its own file; the old release's file goes once the new master took over", async (t) => {
  const dir = twoReleases(t);
  const p = startRelease(t, dir, ['-w', '1', '-b', 'unix:app.sock', 'app.cjs']);
  await p.ready();
  const [oldSock, newSock] = [join(dir, 'releases/1/app.sock'), join(dir, 'releases/2/app.sock')];
  assert.equal((await request({ socketPath: oldSock })).json<{ version: string }>().version, '1');
  deploy(dir, '2');
  const newPid = await upgrade(t, p);
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid);
  assert.equal((await p.exited).code, 0);
  const dropped = p.logs.find((l) => l.event === 'upgrade-socket-dropped' && l.pid === newPid);
  assert.equal(dropped?.bind, `unix:${oldSock}`);
  assert.equal(existsSync(oldSock), false, "the chain's file nobody serves any more is removed");
  assert.equal((await request({ socketPath: newSock })).json<{ version: string }>().version, '2');
  await stopMaster(p, newPid);
  assert.equal(existsSync(newSock), false);
});

test('a new master whose configuration names another --pidfile writes that one; the old master removes its own', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'prefork.json');
  const [a, b] = [join(dir, 'a.pid'), join(dir, 'b.pid')];
  writeFileSync(config, JSON.stringify({ workers: 1, bind: '127.0.0.1:0', pidfile: a }));
  const p = startPrefork(t, ['--config', config, app('pid.cjs')]);
  await p.ready();
  writeFileSync(config, JSON.stringify({ workers: 1, bind: '127.0.0.1:0', pidfile: b }));
  const newPid = await upgrade(t, p);
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid);
  assert.equal((await p.exited).code, 0);
  assert.equal(existsSync(a), false, 'the old pidfile goes with the old master');
  assert.equal(existsSync(`${a}.lock`), false);
  assert.equal(readFileSync(b, 'utf8'), `${newPid}\n`);
});

test('the control socket and the metrics bind are handed over too: the new master serves them, same files, no collision', async (t) => {
  const dir = tempDir(t);
  const control = join(dir, 'ctl.sock');
  const metricsSock = join(dir, 'metrics.sock');
  const p = startPrefork(t, [
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--control',
    control,
    '--metrics-bind',
    `unix:${metricsSock}`,
    app('pid.cjs'),
  ]);
  await p.ready();
  const inodes = [lstatSync(control).ino, lstatSync(metricsSock).ino];
  const newPid = await upgrade(t, p);
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid, 20_000, 'took-over');
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  assert.ok(!p.logs.some((l) => l.pid === newPid && l.event === 'upgrade-socket-dropped'), 'nothing was dropped');
  assert.deepEqual([lstatSync(control).ino, lstatSync(metricsSock).ino], inodes, 'neither file was recreated');
  const status = await new Promise<string>((resolve, reject) => {
    const c = net.connect(control, () => c.write('{"cmd":"status"}\n'));
    let text = '';
    c.setEncoding('utf8')
      .on('data', (d: string) => (text += d))
      .on('end', () => resolve(text))
      .on('error', reject);
  });
  assert.equal(
    (JSON.parse(status.trim().split('\n').at(-1)!) as { status: { master: { pid: number } } }).status.master.pid,
    newPid,
  );
  const metrics = await request({ socketPath: metricsSock }, { path: '/metrics' });
  assert.match(metrics.body, /prefork_workers\{state="ready"\} 1/);
  assert.equal((await stopMaster(p, newPid)).code, 0);
  assert.equal(existsSync(control), false);
  assert.equal(existsSync(metricsSock), false);
});
