import assert from 'node:assert/strict';
import { copyFileSync, existsSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, eventually, isAlive, load, request, sleep, startPrefork, tempDir, toTarget } from '../helpers/prefork.js';
import {
  deploy,
  failures,
  servedBy,
  startRelease,
  stopMaster,
  twoReleases,
  upgrade,
  waitLog,
} from '../helpers/upgrade.js';

// Hot upgrades that fail, are refused or are interrupted: the old master serves on, or hands over cleanly.

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
