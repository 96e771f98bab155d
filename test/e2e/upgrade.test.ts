import assert from 'node:assert/strict';
import { copyFileSync, existsSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type LoadResult,
  app,
  eventually,
  isAlive,
  load,
  request,
  sleep,
  startPrefork,
  tempDir,
  toTarget,
} from '../helpers/prefork.js';
import { childrenOf, deploy, startRelease, stopMaster, twoReleases, upgrade, waitLog } from '../helpers/upgrade.js';

const failures = (r: LoadResult): string => JSON.stringify([...r.failures]);
const servedBy = (r: LoadResult, pids: Iterable<number>): number =>
  [...pids].reduce((sum, pid) => sum + (r.pids.get(pid) ?? 0), 0);

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

test('a failed upgrade (the app on disk throws at import): the old master keeps serving, 0 failed requests, its socket file intact; a fixed app upgrades', async (t) => {
  const dir = tempDir(t);
  const appFile = join(dir, 'app.cjs');
  const pidfile = join(dir, 'app.pid');
  const sock = join(dir, 'app.sock');
  copyFileSync(app('pid.cjs'), appFile);
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '-b', `unix:${sock}`, '--pidfile', pidfile, appFile]);
  const target = await p.ready();
  const inode = lstatSync(sock).ino;
  const oldWorkers = p.readyWorkers();
  let finish = (): void => {};
  const finished = new Promise<void>((done) => (finish = done));
  const loads = [
    load(target, { until: finished, concurrency: 4 }),
    load({ socketPath: sock }, { until: finished, concurrency: 4, keepAlive: false }),
  ];
  await sleep(200);
  writeFileSync(appFile, "throw new Error('broken release');\n");
  const newPid = await upgrade(t, p);
  const failed = await p.waitForEvent('upgrade-failed', () => true, 20_000);
  assert.equal(failed.newPid, newPid);
  assert.match(String(failed.reason), /exited with code 4 before it was ready/);
  assert.match(String(failed.msg), /this master keeps serving/);
  await eventually(() => !isAlive(newPid), 5000, 'the failed new master to exit');
  await sleep(300);
  finish();
  for (const r of await Promise.all(loads)) {
    assert.equal(r.failed, 0, `failures: ${failures(r)}`);
    assert.equal(servedBy(r, oldWorkers), r.ok, 'only the old workers served');
  }
  // The failed master closed the handle it opened from the inherited fd: that must not unlink.
  assert.equal(lstatSync(sock).ino, inode, 'the socket file is intact');
  assert.equal((await request({ socketPath: sock })).status, 200);
  assert.deepEqual(p.readyWorkers().sort(), oldWorkers.sort(), 'the old workers are untouched');
  assert.equal(readFileSync(pidfile, 'utf8'), `${p.pid}\n`, 'the pidfile still names the old master');
  assert.equal(readFileSync(join(`${pidfile}.lock`, 'pid'), 'utf8'), `${p.pid}\n`);
  assert.equal((await request(target)).status, 200);

  // Fixed on disk: the next SIGUSR2 goes through.
  copyFileSync(app('pid.cjs'), appFile);
  const fixed = await upgrade(t, p);
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === fixed);
  assert.equal((await p.exited).code, 0);
  assert.equal(readFileSync(pidfile, 'utf8'), `${fixed}\n`);
});

/** A config file that holds a new master in start-up while `marker` exists. */
function slowConfig(dir: string, marker: string, ms: number): string {
  const file = join(dir, 'slow.mjs');
  writeFileSync(
    file,
    `import { existsSync } from 'node:fs';\nexport default async () => {\n  if (existsSync(${JSON.stringify(marker)})) await new Promise((r) => setTimeout(r, ${ms}));\n  return { workers: 1, bind: '127.0.0.1:0' };\n};\n`,
  );
  return file;
}

test('a second SIGUSR2 while an upgrade runs is refused with a log line; the first completes', async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, 'slow');
  const p = startPrefork(t, ['--config', slowConfig(dir, marker, 1500), app('pid.cjs')]);
  await p.ready();
  writeFileSync(marker, '');
  const newPid = await upgrade(t, p);
  p.signal('SIGUSR2');
  const refused = await p.waitForEvent('upgrade-refused');
  assert.match(
    String(refused.msg),
    new RegExp(`SIGUSR2 refused: a hot upgrade is already running \\(new master pid ${newPid}\\)`),
  );
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid);
  assert.equal((await p.exited).code, 0);
  assert.equal(p.logs.filter((l) => l.event === 'upgrade-started').length, 1, 'only one new master was started');
});

test('a new master that cannot even be started (the directory it starts in is gone): logged, the old master keeps serving, a later SIGUSR2 works', async (t) => {
  const dir = twoReleases(t);
  const p = startRelease(t, dir, ['-w', '1', '-b', '127.0.0.1:0', 'app.cjs']);
  const target = await p.ready();
  rmSync(join(dir, 'current'));
  p.signal('SIGUSR2');
  const failed = await p.waitForEvent('upgrade-failed', () => true, 10_000);
  assert.match(String(failed.reason), /cannot start .*ENOENT/);
  assert.equal((await request(target)).json<{ version: string }>().version, '1', 'the old master serves on');
  deploy(dir, '2');
  const newPid = await upgrade(t, p);
  await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid, 20_000, 'took-over');
  assert.equal((await p.exited).code, 0);
  assert.equal((await request(target)).json<{ version: string }>().version, '2');
  assert.equal((await stopMaster(p, newPid)).code, 0);
});

test('a new master not ready within --boot-timeout is stopped; the old master keeps serving', async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, 'slow');
  const pidfile = join(dir, 'app.pid');
  const p = startPrefork(t, [
    '--config',
    slowConfig(dir, marker, 60_000),
    '--boot-timeout',
    '2',
    '--graceful-timeout',
    '1',
    '--pidfile',
    pidfile,
    app('pid.cjs'),
  ]);
  const target = await p.ready();
  writeFileSync(marker, '');
  const newPid = await upgrade(t, p);
  const failed = await p.waitForEvent('upgrade-failed', () => true, 10_000);
  assert.equal(failed.newPid, newPid);
  assert.match(String(failed.reason), /not ready within --boot-timeout 2 s/);
  await eventually(() => !isAlive(newPid), 10_000, 'the stuck new master to be stopped');
  assert.equal((await request(target)).status, 200);
  assert.equal(readFileSync(pidfile, 'utf8'), `${p.pid}\n`);
  assert.equal((await p.stop()).code, 0);
  assert.equal(existsSync(pidfile), false, 'the old master, still the live one, removes its pidfile');
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

for (const [what, breakIt, reason] of [
  [
    'the app throws at import',
    (root: string) => writeFileSync(join(root, 'app.cjs'), "throw new Error('broken release');\n"),
    /exited with code 4/,
  ],
  [
    'its prefork code does not load',
    (root: string) => writeFileSync(join(root, 'cli.mjs'), "throw new Error('broken prefork');\n"),
    /exited with code 1/,
  ],
] as const) {
  test(`a new release where ${what}: SIGUSR2 fails, the old master and release serve on`, async (t) => {
    const dir = twoReleases(t, breakIt);
    const p = startRelease(t, dir, ['-w', '2', '-b', '127.0.0.1:0', 'app.cjs']);
    const target = await p.ready();
    deploy(dir, '2');
    let finish = (): void => {};
    const running = load(target, { until: new Promise<void>((done) => (finish = done)), concurrency: 4 });
    const newPid = await upgrade(t, p);
    const failed = await p.waitForEvent('upgrade-failed', () => true, 20_000);
    assert.equal(failed.newPid, newPid);
    assert.match(String(failed.reason), reason);
    finish();
    const r = await running;
    assert.equal(r.failed, 0, `failures: ${failures(r)}`);
    assert.equal((await request(target)).json<{ version: string }>().version, '1');
    assert.equal((await p.stop()).code, 0);
  });
}

test("SIGUSR2 while the master is still starting is refused (held, then logged), never lost to Node's default", async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, 'slow');
  writeFileSync(marker, '');
  const p = startPrefork(t, ['--config', slowConfig(dir, marker, 1000), app('pid.cjs')]);
  await sleep(500);
  p.signal('SIGUSR2');
  const refused = await p.waitForEvent('upgrade-refused');
  assert.match(String(refused.reason), /still starting/);
  rmSync(marker);
  const target = await p.ready();
  assert.equal((await request(target)).status, 200);
  assert.ok(!p.logs.some((l) => l.event === 'upgrade-started'));
  assert.equal((await p.stop()).code, 0);
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

test('TERM to the old master while the new one is still starting: both go, the old one removes its files as the live master', async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, 'slow');
  const sock = join(dir, 'app.sock');
  const pidfile = join(dir, 'app.pid');
  const p = startPrefork(t, [
    '--config',
    slowConfig(dir, marker, 60_000),
    '-b',
    `unix:${sock}`,
    '--pidfile',
    pidfile,
    app('pid.cjs'),
  ]);
  await p.ready();
  writeFileSync(marker, '');
  const newPid = await upgrade(t, p);
  p.signal('SIGTERM');
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  const aborted = p.logs.find((l) => l.event === 'upgrade-aborted');
  assert.equal(aborted?.newPid, newPid);
  await eventually(() => !isAlive(newPid), 5000, 'the unfinished new master to be stopped');
  assert.equal(existsSync(sock), false);
  assert.equal(existsSync(pidfile), false);
  assert.equal(existsSync(`${pidfile}.lock`), false);
});

test('the old master SIGKILLed during an upgrade: the new master takes over once ready (pidfile and lock included)', async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, 'slow');
  const pidfile = join(dir, 'app.pid');
  const p = startPrefork(t, ['--config', slowConfig(dir, marker, 1000), '--pidfile', pidfile, app('pid.cjs')]);
  await p.ready();
  writeFileSync(marker, '');
  const newPid = await upgrade(t, p);
  assert.deepEqual(await p.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
  const took = await waitLog(p, (l) => l.event === 'took-over' && l.pid === newPid, 15_000, 'took-over');
  assert.equal(took.reason, 'the old master is gone');
  assert.ok(p.logs.some((l) => l.event === 'upgrade-parent-gone' && l.pid === newPid));
  assert.equal(readFileSync(pidfile, 'utf8'), `${newPid}\n`);
  assert.equal(readFileSync(join(`${pidfile}.lock`, 'pid'), 'utf8'), `${newPid}\n`);
  const target = p.logs
    .filter((l) => l.event === 'listening' && l.pid === newPid)
    .map((l) => toTarget(String(l.address)))[0]!;
  assert.equal((await request(target)).status, 200);
  await stopMaster(p, newPid);
  assert.equal(existsSync(pidfile), false);
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
