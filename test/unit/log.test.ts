import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { prettyLine } from '../../src/log.js';

// 2024-05-06T07:08:09.123Z
const TIME = Date.UTC(2024, 4, 6, 7, 8, 9, 123);

const line = (entry: Record<string, unknown>): string => JSON.stringify({ level: 30, time: TIME, pid: 100, ...entry });

describe('prettyLine', () => {
  test('a master line: time, level, master, pid, message', () => {
    assert.equal(prettyLine(line({ role: 'master', msg: 'listening' })), '07:08:09.123 INFO  master (100) listening\n');
  });

  test('a worker line names the worker slot', () => {
    assert.equal(prettyLine(line({ role: 'worker', worker: 3, msg: 'ready' })), '07:08:09.123 INFO  worker 3 (100) ready\n');
  });

  test('extra fields follow the message; strings bare, others as JSON', () => {
    const out = prettyLine(
      line({ role: 'master', msg: 'worker exited', event: 'worker-exit', code: 1, signal: null, url: 'http://127.0.0.1:8000', ok: false, tags: ['a', 'b'], detail: { x: 1 } }),
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
    assert.match(prettyLine(line({ time: Date.UTC(2030, 0, 1, 23, 59, 59, 7), role: 'master', msg: 'm' })), /^23:59:59\.007 /);
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
