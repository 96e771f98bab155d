import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CLI,
  ROOT,
  type LogLine,
  app,
  eventually,
  load,
  request,
  runPrefork,
  startPrefork,
  tempDir,
  logEntries,
} from '../helpers/prefork.js';

const consoleLine = (l: LogLine, msg: string): boolean => l.event === 'console' && l.msg === msg;
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test("--log-file: the master, every worker, the access log and the app's own output append to one file, line by line", async (t) => {
  const file = join(tempDir(t), 'app.log');
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--access-log', '--log-file', file, app('console.cjs')], {
    logFile: file,
  });
  const target = await p.ready();
  const workers = p.readyWorkers();
  // Two workers writing app output and access lines at once: O_APPEND keeps every line whole.
  const result = await load(target, { total: 300, concurrency: 8, path: '/log?m=load' });
  assert.equal(result.failed, 0, JSON.stringify([...result.failures]));
  assert.equal((await p.stop()).code, 0);

  assert.equal(p.stdout, '', 'nothing on stdout with --log-file');
  const lines = logEntries(file);
  const masterEvents = lines.filter((l) => l.role === 'master').map((l) => l.event);
  for (const e of ['listening', 'ready', 'stopping', 'stopped'])
    assert.ok(masterEvents.includes(e), `no master "${e}" line`);
  for (const pid of workers)
    assert.ok(
      lines.some((l) => l.role === 'worker' && l.pid === pid && l.event === 'drained'),
      `no lifecycle line from worker ${pid}`,
    );

  for (const msg of ['stdout load', 'stderr load', 'raw load continued']) {
    const app = lines.filter((l) => consoleLine(l, msg));
    assert.equal(app.length, 300, msg);
    for (const l of app) {
      assert.ok(workers.includes(Number(l.pid)), `console line from an unknown pid: ${JSON.stringify(l)}`);
      assert.ok(l.worker === 0 || l.worker === 1, `console line without its worker id: ${JSON.stringify(l)}`);
      assert.equal(l.stream, msg.startsWith('stderr') ? 'stderr' : 'stdout');
    }
  }
  const loaded = lines.filter((l) => consoleLine(l, 'console app loaded')).map((l) => l.worker);
  assert.deepEqual(loaded.sort(), [0, 1], 'output at import time is captured too');
  const access = lines.filter((l) => l.event === 'access');
  assert.equal(access.length, 300);
  for (const l of access)
    assert.deepEqual(
      [l.method, l.path, l.status, typeof l.ms, typeof l.worker],
      ['GET', '/log?m=load', 200, 'number', 'number'],
    );
});

test('SIGUSR1 to the master after a logrotate-style rename: the master, every worker and the app write to the new file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'app.log');
  const rotated = join(dir, 'app.log.1');
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--access-log', '--log-file', file, app('console.cjs')], {
    logFile: file,
  });
  const target = await p.ready();
  const workers = p.readyWorkers();
  await request(target, { path: '/log?m=before' });
  await p.waitForLog((l) => consoleLine(l, 'stdout before'));

  renameSync(file, rotated);
  p.signal('SIGUSR1');
  // Each process says so in the new file once it has reopened.
  await eventually(() => p.logs.filter((l) => l.event === 'reopen-logs').length === 3, 5000, 'three reopen-logs lines');
  const reopened = p.logs.filter((l) => l.event === 'reopen-logs');
  assert.deepEqual(
    reopened.map((l) => (l.role === 'master' ? 'master' : Number(l.pid))).sort(),
    ['master', ...workers].sort(),
  );
  const rotatedBefore = readFileSync(rotated, 'utf8');

  // New lines from the master (a worker more), from the workers and from the app.
  p.signal('SIGTTIN');
  await p.waitForEvent('worker', (l) => l.role === 'master' && l.state === 'ready' && l.worker === 2);
  const answered = new Set<number>();
  for (let i = 0; i < 200 && !workers.every((pid) => answered.has(pid)); i += 1) {
    answered.add(
      (await request(target, { path: '/log?m=after', headers: { connection: 'close' } })).json<{ pid: number }>().pid,
    );
  }
  assert.ok(
    workers.every((pid) => answered.has(pid)),
    'both original workers served a request',
  );
  assert.equal((await p.stop()).code, 0);

  assert.equal(
    readFileSync(rotated, 'utf8'),
    rotatedBefore,
    'the renamed file got nothing after every process reopened',
  );
  assert.ok(logEntries(rotated).some((l) => consoleLine(l, 'stdout before')));
  const lines = logEntries(file);
  const fromMaster = lines
    .filter((l) => l.role === 'master')
    .map((l) => (l.event === 'worker' ? `worker:${String(l.state)}` : l.event));
  for (const e of ['reopen-logs', 'scale', 'worker:booting', 'worker:ready', 'stopping', 'stopped'])
    assert.ok(fromMaster.includes(e), `no master "${e}" line in the new file`);
  for (const pid of workers) {
    assert.ok(
      lines.some((l) => l.pid === pid && consoleLine(l, 'stdout after')),
      `no app output from worker ${pid} in the new file`,
    );
    assert.ok(
      lines.some((l) => l.pid === pid && l.event === 'access' && l.path === '/log?m=after'),
      `no access line from worker ${pid} in the new file`,
    );
  }
  assert.ok(
    lines.some((l) => l.worker === 2 && consoleLine(l, 'console app loaded')),
    'the worker added after the rotation writes there too',
  );
});

test("SIGUSR1 sent straight to a worker reopens that worker's file (and only its own)", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'app.log');
  const rotated = join(dir, 'app.log.1');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--log-file', file, app('console.cjs')], {
    logFile: file,
  });
  const target = await p.ready();
  const [worker] = p.readyWorkers();
  assert.ok(worker !== undefined);

  renameSync(file, rotated);
  process.kill(worker, 'SIGUSR1');
  await p.waitForLog((l) => l.event === 'reopen-logs' && l.pid === worker && l.reason === 'SIGUSR1');
  await request(target, { path: '/log?m=direct' });
  await p.waitForLog((l) => l.pid === worker && consoleLine(l, 'stdout direct'));
  // The master was not signalled: it still writes to the renamed file.
  p.signal('SIGTTIN');
  await eventually(
    () =>
      logEntries(rotated).some(
        (l) => l.role === 'master' && l.event === 'worker' && l.state === 'ready' && l.worker === 1,
      ),
    10_000,
    'worker 1 ready, in the renamed file',
  );
  assert.equal((await p.stop()).code, 0);

  const fresh = logEntries(file);
  assert.ok(
    fresh.every((l) => l.role === 'worker'),
    'no master line in the new file',
  );
  assert.ok(
    fresh.some((l) => l.worker === 1 && consoleLine(l, 'console app loaded')),
    'a new worker opens the file by its name',
  );
  const old = logEntries(rotated);
  assert.ok(!old.some((l) => l.pid === worker && (l.event === 'reopen-logs' || consoleLine(l, 'stdout direct'))));
  assert.ok(old.some((l) => l.role === 'master' && l.event === 'stopped'));
});

test('--access-log under --log-format pretty: access lines stay JSON, lifecycle and app lines are pretty', async (t) => {
  const p = startPrefork(t, [
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--log-format',
    'pretty',
    '--access-log',
    app('console.cjs'),
  ]);
  await eventually(() => p.stdout.includes('workers serving'), 15_000, 'ready');
  const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(p.stdout)?.[1]);
  await request({ host: '127.0.0.1', port }, { path: '/log?m=pretty' });
  await request({ host: '127.0.0.1', port }, { path: '/other', method: 'POST' });
  await eventually(() => p.logs.filter((l) => l.event === 'access').length === 2, 5000, 'two access lines');
  await p.stop();

  const json = p.logs.filter((l) => l.event !== 'non-json');
  assert.deepEqual(
    json.map((l) => l.event),
    ['access', 'access'],
    'only access lines are JSON',
  );
  const [first, second] = json;
  assert.deepEqual([first?.method, first?.path, first?.status, first?.worker], ['GET', '/log?m=pretty', 200, 0]);
  assert.deepEqual([second?.method, second?.path, second?.status, second?.worker], ['POST', '/other', 200, 0]);
  for (const l of json) {
    assert.equal(typeof l.ms, 'number');
    assert.ok(Number(l.ms) >= 0);
    assert.equal(typeof l.time, 'number');
    assert.equal(typeof l.pid, 'number');
  }
  assert.match(p.stdout, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}master \(\d+\) ready: 1 workers serving/m);
  assert.match(p.stdout, /INFO {2}master \(\d+\) stopped \(exit 0\)/);
  assert.match(p.stdout, /INFO {2}worker 0 \(\d+\) stdout pretty {2}stream=stdout/);
  assert.match(p.stdout, /ERROR worker 0 \(\d+\) stderr pretty {2}stream=stderr/);
});

test('an unwritable --log-file exits 2 with one line and creates nothing', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'logs'));
  const socket = join(dir, 'app.sock');
  const cases: Array<[string, RegExp]> = [
    [join(dir, 'missing', 'app.log'), /directory .*missing does not exist/],
    [join(dir, 'logs'), /it is a directory/],
  ];
  for (const [file, why] of cases) {
    for (const extra of [[], ['--check-config']]) {
      const r = await runPrefork(t, [...extra, '-b', `unix:${socket}`, '--log-file', file, app('pid.cjs')]);
      assert.equal(r.code, 2, `${file} ${extra.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        new RegExp(
          `^prefork: invalid --log-file "${escape(file)}": ${why.source}; expected a writable file in an existing directory\\n$`,
        ),
      );
      assert.deepEqual(readdirSync(dir), ['logs'], 'nothing created');
      assert.deepEqual(readdirSync(join(dir, 'logs')), []);
    }
  }
});

const NOBODY = { uid: 65534, gid: 65534 };

/** Can user nobody run the CLI and reach `dir`? Not when the checkout or TMPDIR is private to root. */
function nobodyCanRun(dir: string): boolean {
  const probe = `const fs = require('fs'); fs.accessSync(${JSON.stringify(CLI)}, fs.constants.R_OK); fs.statSync(${JSON.stringify(dir)});`;
  return spawnSync(process.execPath, ['-e', probe], { ...NOBODY, timeout: 10_000 }).status === 0;
}

function refusedWithPermissionDenied(file: string, user: typeof NOBODY | null): void {
  const r = spawnSync(process.execPath, [CLI, '-b', '127.0.0.1:0', '--log-file', file, app('pid.cjs')], {
    cwd: ROOT,
    env: { ...process.env, PREFORK_LOG_FORMAT: 'json' },
    encoding: 'utf8',
    timeout: 20_000,
    ...(user ?? {}),
  });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    `prefork: invalid --log-file "${file}": permission denied; expected a writable file in an existing directory\n`,
  );
}

test('a --log-file we may not write to exits 2 (permission denied), nothing created', async (t) => {
  const dir = tempDir(t);
  const locked = join(dir, 'locked');
  mkdirSync(locked);
  const existing = join(locked, 'existing.log');
  writeFileSync(existing, '');
  chmodSync(dir, 0o755);
  chmodSync(existing, 0o444);
  // root may write anywhere: as root, run the CLI as nobody in a directory only root may write to.
  const asRoot = process.getuid?.() === 0;
  chmodSync(locked, asRoot ? 0o755 : 0o555);
  try {
    if (asRoot && !nobodyCanRun(locked)) {
      // sysfs refuses to create files even for root.
      refusedWithPermissionDenied('/sys/prefork-test.log', null);
      assert.equal(existsSync('/sys/prefork-test.log'), false);
      return;
    }
    for (const file of [join(locked, 'new.log'), existing]) {
      refusedWithPermissionDenied(file, asRoot ? NOBODY : null);
      assert.deepEqual(readdirSync(locked), ['existing.log'], 'nothing created');
      assert.equal(readFileSync(existing, 'utf8'), '', 'nothing written');
    }
  } finally {
    // tempDir's cleanup must be able to remove it.
    chmodSync(locked, 0o755);
  }
});

test('a relative --log-file is resolved against the directory prefork started in; --check-config creates nothing', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'logs'));
  const r = await runPrefork(t, ['--check-config', '--log-file', 'logs/app.log', app('pid.cjs')], {
    cwd: dir,
    env: { PWD: dir },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { logFile: string }).logFile, join(dir, 'logs', 'app.log'));
  assert.deepEqual(readdirSync(join(dir, 'logs')), []);
});

test('SIGHUP: a changed log-file is logged as ignored; new workers keep writing to the file in use', async (t) => {
  const dir = tempDir(t);
  const first = join(dir, 'first.log');
  const second = join(dir, 'second.log');
  const config = join(dir, 'prefork.json');
  writeFileSync(config, JSON.stringify({ 'log-file': first }));
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--config', config, app('console.cjs')], {
    logFile: first,
  });
  const target = await p.ready();
  writeFileSync(config, JSON.stringify({ 'log-file': second }));
  p.signal('SIGHUP');
  const ignored = await p.waitForEvent('reload-ignored');
  assert.deepEqual(ignored.options, ['logFile']);
  await p.waitForEvent('reload-done');
  await request(target, { path: '/log?m=reloaded' });
  await p.waitForLog((l) => consoleLine(l, 'stdout reloaded'));
  await p.stop();
  assert.equal(existsSync(second), false);
});

test('the log directory vanishes: a failed reopen is logged to the old file, a new worker logs to stdout; all keep serving', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'logs'));
  const file = join(dir, 'logs', 'app.log');
  const moved = join(dir, 'moved', 'app.log');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--log-file', file, app('console.cjs')], {
    logFile: file,
  });
  const target = await p.ready();
  const [worker] = p.readyWorkers();
  renameSync(join(dir, 'logs'), join(dir, 'moved'));
  p.signal('SIGUSR1');
  await eventually(
    () => logEntries(moved).filter((l) => l.event === 'reopen-failed').length === 2,
    5000,
    'reopen-failed from the master and the worker',
  );
  const failed = logEntries(moved).filter((l) => l.event === 'reopen-failed');
  assert.deepEqual(failed.map((l) => l.role).sort(), ['master', 'worker']);
  for (const l of failed)
    assert.match(
      String(l.reason),
      /^cannot reopen .*logs\/app\.log: directory .*logs does not exist; still writing to the file it replaced$/,
    );
  const reply = await request(target, { path: '/log?m=after-failure' });
  assert.equal(reply.json<{ pid: number }>().pid, worker);
  await eventually(
    () => logEntries(moved).some((l) => consoleLine(l, 'stdout after-failure')),
    5000,
    'app output in the old file',
  );
  // A worker started now cannot open the file at all: it logs to stdout, says why, and serves.
  p.signal('SIGTTIN');
  const fallback = await p.waitForEvent('log-file-failed');
  assert.equal(fallback.worker, 1);
  assert.match(
    String(fallback.msg),
    /^invalid --log-file ".*logs\/app\.log": directory .*logs does not exist; .*; logging to stdout$/,
  );
  await eventually(
    () =>
      logEntries(moved).some(
        (l) => l.role === 'master' && l.event === 'worker' && l.state === 'ready' && l.worker === 1,
      ),
    10_000,
    'worker 1 ready',
  );
  assert.equal((await p.stop()).code, 0);
  assert.equal(existsSync(join(dir, 'logs')), false, 'no directory created');
});
