import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Bind,
  UNIX_PATH_MAX_BYTES,
  expandBind,
  formatBind,
  parseBind,
  parseBindOrTemplate,
} from '../../src/config/bind.js';
import { ExitCode, PreforkError } from '../../src/shared/exit-codes.js';

function rejects(run: () => unknown, ...mentions: RegExp[]): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof PreforkError, String(err));
    assert.equal(err.exitCode, ExitCode.usage);
    assert.equal(err.message.split('\n').length, 1);
    for (const m of mentions) assert.match(err.message, m);
    return true;
  });
}

describe('per-worker binds: accepted forms', () => {
  const cases: [string, Bind, string[]][] = [
    [
      'unix:/run/app/web-{worker}.sock',
      { kind: 'per-worker', of: 'unix', path: '/run/app/web-{worker}.sock' },
      ['unix:/run/app/web-0.sock', 'unix:/run/app/web-1.sock', 'unix:/run/app/web-12.sock'],
    ],
    [
      'unix:///run/app/{worker}/web.sock',
      { kind: 'per-worker', of: 'unix', path: '/run/app/{worker}/web.sock' },
      ['unix:/run/app/0/web.sock', 'unix:/run/app/1/web.sock', 'unix:/run/app/12/web.sock'],
    ],
    [
      'unix:@app-{worker}',
      { kind: 'per-worker', of: 'abstract', name: 'app-{worker}' },
      ['unix:@app-0', 'unix:@app-1', 'unix:@app-12'],
    ],
    [
      '127.0.0.1:{9000+worker}',
      { kind: 'per-worker', of: 'tcp', host: '127.0.0.1', base: 9000 },
      ['127.0.0.1:9000', '127.0.0.1:9001', '127.0.0.1:9012'],
    ],
    [
      '[::1]:{9000+worker}',
      { kind: 'per-worker', of: 'tcp', host: '::1', base: 9000 },
      ['[::1]:9000', '[::1]:9001', '[::1]:9012'],
    ],
    [':{9000+worker}', { kind: 'per-worker', of: 'tcp', host: '', base: 9000 }, [':9000', ':9001', ':9012']],
    [
      'localhost:{65533+worker}',
      { kind: 'per-worker', of: 'tcp', host: 'localhost', base: 65533 },
      ['localhost:65533', 'localhost:65534', null as unknown as string],
    ],
  ];
  for (const [raw, parsed, slots] of cases) {
    test(raw, () => {
      const bind = parseBindOrTemplate(raw);
      assert.deepEqual(bind, parsed);
      assert.deepEqual(parseBindOrTemplate(formatBind(bind)), bind, 'formatBind round-trips');
      if (bind.kind !== 'per-worker') return;
      [0, 1, 12].forEach((slot, i) => {
        if (slots[i] === null) return;
        assert.equal(formatBind(expandBind(bind, slot)), slots[i]);
      });
    });
  }

  test('a bind without {worker} is a plain one', () => {
    assert.deepEqual(parseBindOrTemplate('unix:/run/app.sock'), parseBind('unix:/run/app.sock'));
    assert.deepEqual(parseBindOrTemplate('127.0.0.1:80'), { kind: 'tcp', host: '127.0.0.1', port: 80 });
  });
});

describe('per-worker binds: refusals are exit 2 naming the value and what is expected', () => {
  const cases: [string, RegExp][] = [
    ['fd://{worker}', /fd:\/\/N is one inherited descriptor.*HOST:\{BASE\+worker\}/],
    ['{worker}.example:80', /\{worker\} goes in the port, not the host/],
    ['{worker}.example:{9000+worker}', /\{worker\} goes in the port, not the host/],
    ['127.0.0.1:{worker}', /a TCP port needs a base: HOST:\{BASE\+worker\}/],
    ['127.0.0.1:{worker+9000}', /expected unix:PATH with \{worker\}/],
    ['127.0.0.1:9{worker}', /expected unix:PATH with \{worker\}/],
    ['127.0.0.1:{0+worker}', /the base port must be from 1 to 65535/],
    ['127.0.0.1:{70000+worker}', /port 70000 is out of range/],
    ['unix:/run/web-{9000+worker}.sock', /the worker id is written \{worker\}, not \{9000\+worker\}/],
    ['unix:@{worker}x{workers}', /not \{workers\}/],
    [`unix:/${'x'.repeat(UNIX_PATH_MAX_BYTES)}{worker}`, /at most 107/],
  ];
  for (const [raw, why] of cases) {
    test(raw, () =>
      rejects(
        () => parseBindOrTemplate(raw, '--bind'),
        new RegExp(`invalid --bind ${JSON.stringify(raw).replace(/[{}+.[\]\\/()]/g, '\\$&')}`),
        why,
      ),
    );
  }

  test('parseBind (every bind but --bind) refuses {worker}', () => {
    rejects(() => parseBind('127.0.0.1:{9000+worker}', '--metrics-bind'), /is only for --bind/);
  });

  test('a slot past port 65535, or whose path is too long, is named with the bind', () => {
    const tcp = parseBindOrTemplate('127.0.0.1:{65535+worker}');
    assert.ok(tcp.kind === 'per-worker');
    assert.equal(formatBind(expandBind(tcp, 0)), '127.0.0.1:65535');
    rejects(() => expandBind(tcp, 1, '--bind'), /"127.0.0.1:\{65535\+worker\}": worker 1: its port would be 65536/);
    // Worker 0's path is 107 bytes, the most there is; worker 10's is one more.
    const unix = parseBindOrTemplate(`unix:/${'x'.repeat(UNIX_PATH_MAX_BYTES - 7)}{worker}.sock`);
    assert.ok(unix.kind === 'per-worker');
    assert.equal(formatBind(expandBind(unix, 9)).length, 'unix:'.length + UNIX_PATH_MAX_BYTES);
    rejects(() => expandBind(unix, 10), /worker 10: the path is 108 bytes/);
  });
});
