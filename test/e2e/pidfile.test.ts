import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

const oneLine = (stderr: string): string => {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one error line, got:\n${stderr}`);
  return lines[0]!;
};

/** A pid that certainly belonged to a process that is gone: a child we started and reaped. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.ok(r.pid !== undefined && r.pid > 0);
  return r.pid;
}

/**
 * What a SIGKILLed master leaves: its pidfile, and its lock directory naming it inside. The
 * directory's mtime is kept fresh, as a live holder's is, so only a decision from the pid can
 * call it stale (proper-lockfile's own mtime test would refuse for its whole `stale` period).
 */
function leftBehind(t: Parameters<typeof tempDir>[0], pidfile: string, pid: number): void {
  writeFileSync(pidfile, `${pid}\n`);
  mkdirSync(`${pidfile}.lock`);
  writeFileSync(join(`${pidfile}.lock`, 'pid'), `${pid}\n`);
  keepFresh(t, `${pidfile}.lock`, pid);
}

/** Touches a lock directory as its live holder would, until someone else holds it. */
function keepFresh(t: Parameters<typeof tempDir>[0], lockDir: string, holder: number): void {
  const touch = (): void => {
    try {
      if (readFileSync(join(lockDir, 'pid'), 'utf8') !== `${holder}\n`) return clearInterval(timer);
      utimesSync(lockDir, new Date(), new Date());
    } catch {
      clearInterval(timer);
    }
  };
  const timer = setInterval(touch, 100);
  touch();
  t.after(() => clearInterval(timer));
}

test('the pidfile holds the master pid and a newline, and goes on SIGTERM with its lock', async (t) => {
  const dir = tempDir(t);
  const pidfile = join(dir, 'app.pid');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--pidfile', pidfile, app('pid.cjs')]);
  const target = await p.ready();
  assert.equal(readFileSync(pidfile, 'utf8'), `${p.pid}\n`);
  assert.equal(lstatSync(`${pidfile}.lock`).isDirectory(), true, 'locked with proper-lockfile');
  assert.deepEqual(readdirSync(dir).sort(), ['app.pid', 'app.pid.lock'], 'no temp file left from the atomic write');
  assert.equal((await request(target)).status, 200);
  assert.deepEqual(await p.stop('SIGTERM'), { code: 0, signal: null });
  assert.deepEqual(readdirSync(dir), [], 'pidfile and lock removed');
});

test('a second master with the same pidfile refuses (exit 3, one line), creates nothing, and the first keeps serving', async (t) => {
  const dir = tempDir(t);
  const pidfile = join(dir, 'app.pid');
  const first = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--pidfile', pidfile, app('pid.cjs')]);
  const target = await first.ready();
  const sock = join(dir, 'second.sock');
  const second = await runPrefork(t, ['-w', '1', '-b', `unix:${sock}`, '--pidfile', pidfile, app('pid.cjs')]);
  assert.equal(second.code, 3);
  assert.equal(oneLine(second.stderr), `prefork: pidfile ${pidfile} is held by running prefork master ${first.pid}`);
  assert.equal(existsSync(sock), false, 'the second master bound nothing');
  assert.equal(readFileSync(pidfile, 'utf8'), `${first.pid}\n`);
  assert.equal(readFileSync(join(`${pidfile}.lock`, 'pid'), 'utf8'), `${first.pid}\n`, 'the lock is untouched');
  assert.equal((await request(target)).status, 200);
  assert.equal((await first.stop()).code, 0);
  assert.equal(existsSync(pidfile), false);
});

for (const [what, pidOf, reason] of [
  ['a dead process', deadPid, /is not running/],
  ['a live process that is not a prefork master (the test runner)', () => process.pid, /is not a prefork master/],
] as const) {
  test(`a pidfile and fresh lock left naming ${what} are taken over at once, and logged`, async (t) => {
    const pidfile = join(tempDir(t), 'app.pid');
    const stale = pidOf();
    leftBehind(t, pidfile, stale);
    const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--pidfile', pidfile, app('pid.cjs')]);
    await p.ready();
    const logged = await p.waitForEvent('stale-pidfile');
    assert.equal(logged.holderPid, stale);
    assert.match(String(logged.reason), reason);
    assert.equal(readFileSync(pidfile, 'utf8'), `${p.pid}\n`);
    assert.equal(readFileSync(join(`${pidfile}.lock`, 'pid'), 'utf8'), `${p.pid}\n`);
    assert.equal((await p.stop()).code, 0);
    assert.equal(existsSync(pidfile), false);
    assert.equal(existsSync(`${pidfile}.lock`), false);
    assert.equal(p.logs.filter((l) => l.event === 'pidfile-lock-compromised').length, 0);
  });
}

test('a pidfile alone (no lock) naming a dead pid is replaced', async (t) => {
  const pidfile = join(tempDir(t), 'app.pid');
  const stale = deadPid();
  writeFileSync(pidfile, `${stale}\n`);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--pidfile', pidfile, app('pid.cjs')]);
  await p.ready();
  assert.equal((await p.waitForEvent('stale-pidfile')).holderPid, stale);
  assert.equal(readFileSync(pidfile, 'utf8'), `${p.pid}\n`);
});

test('after SIGKILL of a master, a new master with the same pidfile starts at once', async (t) => {
  const pidfile = join(tempDir(t), 'app.pid');
  const args = ['-w', '1', '-b', '127.0.0.1:0', '--pidfile', pidfile, app('pid.cjs')];
  const killed = startPrefork(t, args);
  await killed.ready();
  assert.deepEqual(await killed.stop('SIGKILL'), { code: null, signal: 'SIGKILL' });
  assert.equal(readFileSync(pidfile, 'utf8'), `${killed.pid}\n`, 'SIGKILL leaves the pidfile');
  assert.ok(existsSync(`${pidfile}.lock`), 'and the lock');
  // The worst case: killed right after it refreshed its lock. Keep the lock's mtime fresh, so
  // that only the pid can tell it is stale.
  keepFresh(t, `${pidfile}.lock`, killed.pid);
  const started = Date.now();
  const next = startPrefork(t, args);
  await next.waitForEvent('pidfile');
  const tookMs = Date.now() - started;
  assert.equal((await next.waitForEvent('stale-pidfile')).holderPid, killed.pid);
  await next.ready();
  assert.equal(readFileSync(pidfile, 'utf8'), `${next.pid}\n`);
  // proper-lockfile alone would call the lock stale only after 10 s (its default `stale`).
  assert.ok(tookMs < 5000, `took over in ${tookMs} ms`);
  assert.equal((await next.stop()).code, 0);
});

for (const [what, make, code, message] of [
  [
    'in a missing directory',
    (dir: string) => join(dir, 'no', 'such', 'app.pid'),
    2,
    /directory .*no\/such does not exist/,
  ],
  [
    'a directory',
    (dir: string) => (mkdirSync(join(dir, 'd')), join(dir, 'd')),
    2,
    /the path is a directory; expected a file path/,
  ],
  [
    'a file that holds no pid',
    (dir: string) => (writeFileSync(join(dir, 'precious'), 'data\n'), join(dir, 'precious')),
    2,
    /does not hold a pid; refusing to replace it/,
  ],
] as const) {
  test(`a pidfile path ${what} is exit ${code} with one line; nothing created or changed`, async (t) => {
    const dir = tempDir(t);
    const pidfile = make(dir);
    const before = readdirSync(dir).sort();
    const sock = join(dir, 'app.sock');
    const r = await runPrefork(t, ['-w', '1', '-b', `unix:${sock}`, '--pidfile', pidfile, app('pid.cjs')]);
    assert.equal(r.code, code);
    assert.match(oneLine(r.stderr), message);
    assert.match(r.stderr, /^prefork: invalid --pidfile/);
    assert.deepEqual(readdirSync(dir).sort(), before);
    if (what === 'a file that holds no pid') assert.equal(readFileSync(pidfile, 'utf8'), 'data\n');
  });
}

test('SIGHUP logs pidfile, user, group and socket-owner changes as ignored; the pidfile stays', async (t) => {
  const dir = tempDir(t);
  const pidfile = join(dir, 'app.pid');
  const config = join(dir, 'prefork.json');
  writeFileSync(config, JSON.stringify({ pidfile }));
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '-c', config, app('pid.cjs')]);
  await p.ready();
  const moved = join(dir, 'moved.pid');
  writeFileSync(config, JSON.stringify({ pidfile: moved, user: 'nobody', group: 'nogroup', socketOwner: ':nogroup' }));
  p.signal('SIGHUP');
  const ignored = await p.waitForEvent('reload-ignored');
  assert.deepEqual([...(ignored.options as string[])].sort(), ['group', 'pidfile', 'socketOwner', 'user']);
  await p.waitForEvent('reload-done');
  assert.equal(readFileSync(pidfile, 'utf8'), `${p.pid}\n`);
  assert.equal(existsSync(moved), false);
  assert.equal((await p.stop()).code, 0);
  assert.equal(existsSync(pidfile), false);
});

test('a lock directory that names no holder is left to proper-lockfile: taken once it is stale', async (t) => {
  const pidfile = join(tempDir(t), 'app.pid');
  mkdirSync(`${pidfile}.lock`);
  const old = new Date(Date.now() - 60_000);
  utimesSync(`${pidfile}.lock`, old, old);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--pidfile', pidfile, app('pid.cjs')]);
  await p.ready();
  assert.equal(readFileSync(pidfile, 'utf8'), `${p.pid}\n`);
});

test('a lock removed from under a running master is logged as compromised; the master keeps serving and stops cleanly', async (t) => {
  const pidfile = join(tempDir(t), 'app.pid');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--pidfile', pidfile, app('pid.cjs')]);
  const target = await p.ready();
  rmSync(`${pidfile}.lock`, { recursive: true });
  // proper-lockfile's default would throw from its refresh timer and take the master down.
  const logged = await p.waitForEvent('pidfile-lock-compromised');
  assert.equal(logged.level, 50);
  assert.equal((await request(target)).status, 200);
  assert.deepEqual(await p.stop(), { code: 0, signal: null });
  assert.equal(existsSync(pidfile), false, 'the pidfile still held our pid: removed');
});
