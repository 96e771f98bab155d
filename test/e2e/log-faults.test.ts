import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type LogLine,
  app,
  eventually,
  killOurs,
  load,
  request,
  runPrefork,
  startPrefork,
  tempDir,
  logEntries,
} from '../helpers/prefork.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** Requests on fresh connections until each of `pids` answered one; returns how many were sent. */
async function reachEvery(
  target: Parameters<typeof request>[0],
  pids: readonly number[],
  path: string,
): Promise<number> {
  const answered = new Set<number>();
  let sent = 0;
  while (!pids.every((pid) => answered.has(pid)) && sent < 300) {
    const reply = await request(target, { path: `${path}${sent}`, headers: { connection: 'close' } });
    assert.equal(reply.status, 200);
    answered.add(reply.json<{ pid: number }>().pid);
    sent += 1;
  }
  assert.ok(
    pids.every((pid) => answered.has(pid)),
    `every worker answered: ${[...answered].join(',')} of ${pids.join(',')}`,
  );
  return sent;
}

test('the log directory deleted and recreated, then USR1: every process, a worker started meanwhile too, writes to the new file', async (t) => {
  const dir = join(tempDir(t), 'logs');
  mkdirSync(dir);
  const file = join(dir, 'app.log');
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--access-log', '--log-file', file, app('pid.cjs')], {
    logFile: file,
  });
  const target = await p.ready();
  assert.equal(statSync(file).mode & 0o777, 0o640 & ~process.umask(), 'created 0640: access lines carry query strings');
  rmSync(dir, { recursive: true });
  // A worker started while the directory is gone logs to stdout...
  const workers = p.readyWorkers();
  p.signal('SIGTTIN');
  const failed = await p.waitForEvent('log-file-failed');
  workers.push(Number(failed.pid));
  mkdirSync(dir);
  // ...and, like the others, goes back to the file on USR1.
  p.signal('SIGUSR1');
  await eventually(
    () => logEntries(file).filter((l) => l.event === 'reopen-logs').length === 4,
    5000,
    'four reopen-logs lines in the new file',
  );
  const sent = await reachEvery(target, workers, '/after?i=');
  await eventually(
    () => logEntries(file).filter((l) => l.event === 'access').length === sent,
    5000,
    `${sent} access lines`,
  );
  assert.equal((await p.stop()).code, 0);
  const lines = logEntries(file);
  assert.deepEqual(new Set(lines.filter((l) => l.event === 'access').map((l) => l.pid)), new Set(workers));
  assert.ok(
    lines.some((l) => l.role === 'master' && l.event === 'stopped'),
    'the master writes there too',
  );
  assert.equal(statSync(file).mode & 0o777, 0o640 & ~process.umask());
});

/** Mounts a small tmpfs for the test (root only), unmounted afterwards whatever happens. */
function smallDisk(t: Parameters<typeof tempDir>[0], sizeKb: number): string | null {
  if (!isRoot) return null;
  const dir = mkdtempSync(join(tmpdir(), 'prefork-disk-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir]).status === 0;
  t.after(() => {
    if (mounted) spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return mounted ? dir : null;
}

/** Writes to `file` until the disk is full. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (const size of [65536, 4096, 1]) {
      const chunk = Buffer.alloc(size, 0x2e);
      for (;;) writeSync(fd, chunk);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // The loop above stops at the first ENOSPC: fill what the smaller chunks still fit.
  const fd2 = openSync(file, 'a');
  try {
    for (const size of [4096, 1]) {
      const chunk = Buffer.alloc(size, 0x2e);
      try {
        for (;;) writeSync(fd2, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd2);
  }
}

const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

test('the log disk full: requests succeed, the worker keeps a bounded amount, counts what it dropped and says so once there is room again', async (t) => {
  const disk = smallDisk(t, 4096);
  if (disk === null) return t.skip('needs root and mount(8) for a small tmpfs');
  const file = join(disk, 'app.log');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--access-log', '--log-file', file, app('pid.cjs')], {
    logFile: file,
  });
  const target = await p.ready();
  const [worker] = p.readyWorkers();
  assert.ok(worker !== undefined);
  const before = rssKb(worker);
  fill(join(disk, 'filler'));

  // 4000 access lines of 8 KB: 32 MB that a process buffering without bound would hold.
  const total = 4000;
  const path = `/full?pad=${'x'.repeat(8192)}`;
  const result = await load(target, { total, concurrency: 4, path });
  assert.deepEqual([result.ok, result.failed], [total, 0], JSON.stringify([...result.failures]));
  const grownMb = (rssKb(worker) - before) / 1024;
  t.diagnostic(`worker RSS grew ${grownMb.toFixed(1)} MB`);

  rmSync(join(disk, 'filler'));
  assert.equal((await request(target, { path: '/after' })).status, 200);
  const dropped = await p.waitForLog((l) => l.event === 'log-dropped' && l.pid === worker, 5000, 'log-dropped');
  await p.waitForLog((l) => l.event === 'access' && l.path === '/after');
  assert.equal(dropped.reason, 'ENOSPC');
  const kept = logEntries(file).filter((l) => l.event === 'access' && l.path === path).length;
  t.diagnostic(`${kept} access lines kept, ${String(dropped.count)} dropped`);
  assert.equal(kept + Number(dropped.count), total, `${kept} kept + ${String(dropped.count)} dropped`);
  assert.ok(kept * 8192 <= 1024 * 1024, `kept ${kept} lines: at most 1 MB of them`);
  assert.ok(grownMb < 40, `the worker grew ${grownMb.toFixed(1)} MB while the disk was full`);
  assert.equal((await p.stop()).code, 0);
});

test('--log-file /dev/full (a disk that is always full): requests succeed and the worker stays lean', async (t) => {
  // Every log line is lost, the address included: serve on a socket whose path we know.
  const sock = join(tempDir(t), 'app.sock');
  const p = startPrefork(t, [
    '-w',
    '1',
    '-b',
    `unix:${sock}`,
    '--access-log',
    '--log-file',
    '/dev/full',
    app('pid.cjs'),
  ]);
  const target = { socketPath: sock };
  let worker = 0;
  await eventually(
    async () => {
      worker = existsSync(sock)
        ? await request(target).then(
            (r) => r.json<{ pid: number }>().pid,
            () => 0,
          )
        : 0;
      return worker > 0;
    },
    15_000,
    'serving',
  );
  t.after(() => killOurs(worker));
  const before = rssKb(worker);
  const total = 4000;
  const result = await load(target, { total, concurrency: 4, path: `/full?pad=${'x'.repeat(8192)}` });
  assert.deepEqual([result.ok, result.failed], [total, 0], JSON.stringify([...result.failures]));
  assert.deepEqual([...result.pids.keys()], [worker]);
  const grownMb = (rssKb(worker) - before) / 1024;
  t.diagnostic(`worker RSS grew ${grownMb.toFixed(1)} MB`);
  assert.ok(grownMb < 40, `the worker grew ${grownMb.toFixed(1)} MB logging 32 MB to a full device`);
  assert.equal((await p.stop()).code, 0);
  assert.equal(p.stdout, '');
});

test('a symlink at the --log-file path in a directory others may write: exit 2, one line, nothing created, target untouched', async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o1777); // like /tmp: anyone may plant a link here
  const target = join(dir, 'root-only');
  writeFileSync(target, '');
  for (const [link, to] of [
    [join(dir, 'planted.log'), target],
    [join(dir, 'dangling.log'), join(dir, 'nothing-here')],
  ] as const) {
    symlinkSync(to, link);
    for (const extra of [[], ['--check-config']]) {
      const r = await runPrefork(t, [...extra, '-b', '127.0.0.1:0', '--log-file', link, app('pid.cjs')]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        `prefork: invalid --log-file "${link}": it is a symbolic link in a directory others may write to (or owned by another user), which prefork never follows; expected a writable file in an existing directory\n`,
      );
    }
  }
  assert.equal(readFileSync(target, 'utf8'), '');
  assert.deepEqual(readdirSync(dir).sort(), ['dangling.log', 'planted.log', 'root-only']);
});

test('a symlink planted at the path after a rotation: every process refuses it on USR1 and keeps its old file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'app.log');
  const victim = join(dir, 'victim');
  writeFileSync(victim, '');
  chmodSync(dir, 0o1777);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--access-log', '--log-file', file, app('pid.cjs')], {
    logFile: file,
  });
  const target = await p.ready();
  renameSync(file, `${file}.1`);
  symlinkSync(victim, file);
  p.signal('SIGUSR1');
  const failed = (): LogLine[] => logEntries(`${file}.1`).filter((l) => l.event === 'reopen-failed');
  await eventually(() => failed().length === 2, 5000, 'reopen-failed from the master and the worker');
  for (const l of failed()) assert.match(String(l.reason), /it is a symbolic link/);
  await request(target, { path: '/still-old' });
  await eventually(
    () => logEntries(`${file}.1`).some((l) => l.event === 'access' && l.path === '/still-old'),
    5000,
    'access line in the old file',
  );
  assert.equal((await p.stop()).code, 0);
  assert.equal(readFileSync(victim, 'utf8'), '', 'nothing written through the symlink');
});

test(
  "--user: the file the master creates is given to the workers' user, who opens it with its own privileges",
  { skip: isRoot ? false : 'needs root' },
  async (t) => {
    const dir = tempDir(t);
    chmodSync(dir, 0o755);
    const file = join(dir, 'app.log');
    const p = startPrefork(
      t,
      ['-w', '1', '-b', '127.0.0.1:0', '--access-log', '--user', 'nobody', '--log-file', file, app('pid.cjs')],
      { logFile: file },
    );
    const target = await p.ready();
    const stat = statSync(file);
    assert.deepEqual([stat.uid, stat.gid, stat.mode & 0o777], [NOBODY, NOBODY, 0o640 & ~process.umask()]);
    await request(target, { path: '/as-nobody' });
    await eventually(
      () => logEntries(file).some((l) => l.event === 'access' && l.path === '/as-nobody'),
      5000,
      "the worker's access line",
    );
    // Rotation: the master creates the new file first and gives it to nobody, so the worker can reopen it.
    renameSync(file, `${file}.1`);
    p.signal('SIGUSR1');
    await eventually(
      () => logEntries(file).filter((l) => l.event === 'reopen-logs').length === 2,
      5000,
      'reopen-logs from the master and the worker',
    );
    const rotated = statSync(file);
    assert.deepEqual([rotated.uid, rotated.gid], [NOBODY, NOBODY]);
    assert.equal((await p.stop()).code, 0);
  },
);

test(
  '--user and an existing file only root may write: the workers cannot write there (they log to stdout and say why)',
  { skip: isRoot ? false : 'needs root' },
  async (t) => {
    const dir = tempDir(t);
    chmodSync(dir, 0o755);
    const file = join(dir, 'root-only.log');
    writeFileSync(file, '', { mode: 0o600 });
    const p = startPrefork(
      t,
      ['-w', '1', '-b', '127.0.0.1:0', '--access-log', '--user', 'nobody', '--log-file', file, app('pid.cjs')],
      { logFile: file },
    );
    const target = await p.ready();
    const failed = await p.waitForEvent('log-file-failed');
    assert.match(String(failed.reason), /permission denied/);
    await request(target, { path: '/app-controlled' });
    await p.waitForLog((l) => l.event === 'access' && l.path === '/app-controlled' && l.role === 'worker');
    assert.equal((await p.stop()).code, 0);
    const lines = logEntries(file);
    assert.ok(
      lines.some((l) => l.role === 'master' && l.event === 'stopped'),
      'the master (root) still writes there',
    );
    assert.ok(!lines.some((l) => l.role === 'worker'), 'no line from a worker running as nobody');
    assert.equal(statSync(file).uid, 0, 'an existing file keeps its owner');
  },
);

test('a symlink only root could have planted (root-owned, in a directory only root may write) is followed: /dev/stdout works', async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const target = join(dir, 'real.log');
  const link = join(dir, 'app.log');
  symlinkSync(target, link);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--access-log', '--log-file', link, app('pid.cjs')], {
    logFile: target,
  });
  const server = await p.ready();
  await request(server, { path: '/through-link' });
  await eventually(
    () => logEntries(target).some((l) => l.event === 'access' && l.path === '/through-link'),
    5000,
    'access line in the link target',
  );
  assert.equal((await p.stop()).code, 0);
  const r = await runPrefork(t, ['--check-config', '--log-file', '/dev/stdout', app('pid.cjs')]);
  assert.equal(r.code, 0, r.stderr);
});
