import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PreforkError } from '../../src/shared/exit-codes.js';
import {
  type LogSettings,
  accessLogger,
  appOutputLogger,
  checkLogFile,
  createLogger,
  logFileOf,
  prettyLine,
  reopenLogFile,
} from '../../src/shared/log.js';

// 2024-05-06T07:08:09.123Z
const TIME = Date.UTC(2024, 4, 6, 7, 8, 9, 123);

const line = (entry: Record<string, unknown>): string => JSON.stringify({ level: 30, time: TIME, pid: 100, ...entry });

describe('prettyLine', () => {
  test('a master line: time, level, master, pid, message', () => {
    assert.equal(prettyLine(line({ role: 'master', msg: 'listening' })), '07:08:09.123 INFO  master (100) listening\n');
  });

  test('a worker line names the worker slot', () => {
    assert.equal(
      prettyLine(line({ role: 'worker', worker: 3, msg: 'ready' })),
      '07:08:09.123 INFO  worker 3 (100) ready\n',
    );
  });

  test('extra fields follow the message; strings bare, others as JSON', () => {
    const out = prettyLine(
      line({
        role: 'master',
        msg: 'worker exited',
        event: 'worker-exit',
        code: 1,
        signal: null,
        url: 'http://127.0.0.1:8000',
        ok: false,
        tags: ['a', 'b'],
        detail: { x: 1 },
      }),
    );
    assert.equal(
      out,
      '07:08:09.123 INFO  master (100) worker exited  code=1 signal=null url=http://127.0.0.1:8000 ok=false tags=["a","b"] detail={"x":1}\n',
    );
  });

  test('bookkeeping fields are not repeated as extras', () => {
    const out = prettyLine(line({ role: 'worker', worker: 0, name: 'svc', event: 'ready', msg: 'hi' }));
    assert.equal(out, '07:08:09.123 INFO  worker 0 (100) hi\n');
    for (const hidden of ['level=', 'time=', 'pid=', 'msg=', 'role=', 'worker=', 'name=', 'event=']) {
      assert.ok(!out.includes(hidden), `${hidden} should be hidden: ${out}`);
    }
  });

  test('every pino level has its name, padded to five columns', () => {
    const names: [number, string][] = [
      [10, 'TRACE'],
      [20, 'DEBUG'],
      [30, 'INFO '],
      [40, 'WARN '],
      [50, 'ERROR'],
      [60, 'FATAL'],
    ];
    for (const [level, name] of names) {
      assert.equal(prettyLine(line({ level, role: 'master', msg: 'm' })), `07:08:09.123 ${name} master (100) m\n`);
    }
  });

  test('an unknown numeric level is shown as its number', () => {
    assert.equal(prettyLine(line({ level: 35, role: 'master', msg: 'm' })), '07:08:09.123 35    master (100) m\n');
  });

  test('time is UTC hours to milliseconds', () => {
    assert.match(
      prettyLine(line({ time: Date.UTC(2030, 0, 1, 23, 59, 59, 7), role: 'master', msg: 'm' })),
      /^23:59:59\.007 /,
    );
  });

  test('a missing message leaves the message empty', () => {
    assert.equal(prettyLine(line({ role: 'master', port: 8000 })), '07:08:09.123 INFO  master (100)   port=8000\n');
  });

  test('a non-JSON line passes through unchanged, on a line of its own', () => {
    for (const text of ['hello world', 'Error: something broke', '{not json', '']) {
      assert.equal(prettyLine(text), `${text}\n`);
    }
  });

  test('JSON that is not a pino entry does not throw', () => {
    for (const text of ['{"msg":"x"}', 'null', '42', '"str"']) {
      assert.doesNotThrow(() => prettyLine(text), text);
    }
  });
});

describe('log destinations', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'prefork-log-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const settings = (logFile: string, more: Partial<LogSettings> = {}): LogSettings => ({
    logLevel: 'info',
    logFormat: 'json',
    name: null,
    logFile,
    ...more,
  });
  const read = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);

  test('appends to the file (never truncates it), one JSON line per entry', () => {
    const file = join(dir, 'append.log');
    writeFileSync(file, 'kept\n');
    const log = createLogger(settings(file), { role: 'worker', worker: 2 });
    log.info({ event: 'x' }, 'hello');
    const [kept, line] = read(file);
    assert.equal(kept, 'kept');
    assert.deepEqual(pick(JSON.parse(line ?? '') as Record<string, unknown>, 'role', 'worker', 'event', 'msg'), {
      role: 'worker',
      worker: 2,
      event: 'x',
      msg: 'hello',
    });
    assert.equal(logFileOf(log), file);
  });

  test('reopenLogFile follows a rename: later lines go to a new file by the same name', () => {
    const file = join(dir, 'rotate.log');
    const log = createLogger(settings(file), { role: 'master' });
    log.info('one');
    renameSync(file, `${file}.1`);
    assert.equal(reopenLogFile(log), file);
    log.info('two');
    assert.deepEqual(
      read(`${file}.1`).map((l) => JSON.parse(l).msg),
      ['one'],
    );
    assert.deepEqual(
      read(file).map((l) => JSON.parse(l).msg),
      ['two'],
    );
  });

  test('a reopen that fails throws one line and keeps writing to the old file', () => {
    mkdirSync(join(dir, 'a'));
    const log = createLogger(settings(join(dir, 'a', 'app.log')), { role: 'master' });
    renameSync(join(dir, 'a'), join(dir, 'b'));
    assert.throws(
      () => reopenLogFile(log),
      /^Error: cannot reopen .*a\/app\.log: directory .*a does not exist; still writing to the file it replaced$/,
    );
    log.info('still here');
    assert.deepEqual(
      read(join(dir, 'b', 'app.log')).map((l) => JSON.parse(l).msg),
      ['still here'],
    );
  });

  test('logging to stdout: nothing to reopen', () => {
    const log = createLogger({ logLevel: 'silent', logFormat: 'json', name: null }, { role: 'master' });
    assert.equal(logFileOf(log), null);
    assert.equal(reopenLogFile(log), null);
  });

  test("the access log stays JSON under pretty and ignores --log-level; the app's output is pretty and unfiltered", () => {
    const file = join(dir, 'pretty.log');
    const log = createLogger(settings(file, { logFormat: 'pretty', logLevel: 'silent' }), {
      role: 'worker',
      worker: 1,
    });
    log.info('filtered out');
    accessLogger(log).info({ event: 'access', method: 'GET', path: '/', status: 200, ms: 1.5 }, 'GET / 200');
    appOutputLogger(log).info({ event: 'console', stream: 'stdout' }, 'from the app');
    const [access, output, ...rest] = read(file);
    assert.deepEqual(rest, []);
    assert.deepEqual(
      pick(JSON.parse(access ?? '') as Record<string, unknown>, 'event', 'method', 'path', 'status', 'ms', 'worker'),
      {
        event: 'access',
        method: 'GET',
        path: '/',
        status: 200,
        ms: 1.5,
        worker: 1,
      },
    );
    assert.match(output ?? '', /^\d\d:\d\d:\d\d\.\d{3} INFO {2}worker 1 \(\d+\) from the app {2}stream=stdout$/);
  });

  test('an unwritable file is a usage error (exit 2) naming the path and why; nothing is created', () => {
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing', 'x.log'), /directory .*missing does not exist/],
      [dir, /it is a directory/],
    ];
    for (const [file, why] of cases) {
      for (const attempt of [() => createLogger(settings(file), { role: 'master' }), () => checkLogFile(file)]) {
        assert.throws(attempt, (err: unknown) => {
          assert.ok(err instanceof PreforkError);
          assert.equal(err.exitCode, 2);
          assert.ok(err.message.startsWith(`invalid --log-file "${file}": `), err.message);
          assert.match(err.message, why);
          return true;
        });
      }
    }
    assert.equal(existsSync(join(dir, 'missing')), false);
  });

  test('createLogger creates the file 0640 and refuses a symlink at the path (exit 2), leaving its target alone', () => {
    const file = join(dir, 'mode.log');
    createLogger(settings(file), { role: 'master' }).info('x');
    assert.equal(statSync(file).mode & 0o777, 0o640 & ~process.umask());
    const target = join(dir, 'target');
    writeFileSync(target, '');
    const link = join(dir, 'link.log');
    symlinkSync(target, link);
    chmodSync(dir, 0o1777); // a link in a directory anyone may write to is never followed
    for (const attempt of [() => createLogger(settings(link), { role: 'master' }), () => checkLogFile(link)]) {
      assert.throws(attempt, (err: unknown) => {
        assert.ok(err instanceof PreforkError);
        assert.equal(err.exitCode, 2);
        assert.equal(
          err.message,
          `invalid --log-file "${link}": it is a symbolic link in a directory others may write to (or owned by another user), which prefork never follows; expected a writable file in an existing directory`,
        );
        return true;
      });
    }
    assert.equal(readFileSync(target, 'utf8'), '');
  });

  test('checkLogFile accepts a new file in a writable directory without creating it', () => {
    checkLogFile(join(dir, 'later.log'));
    assert.equal(existsSync(join(dir, 'later.log')), false);
  });
});

function pick(o: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}
