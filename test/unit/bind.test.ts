import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BindSpec, UNIX_PATH_MAX_BYTES, formatBind, parseBind } from '../../src/config/bind.js';
import { ExitCode, PreforkError } from '../../src/shared/exit-codes.js';

/** Every rejection is a PreforkError with exit code 2 whose message quotes the raw input. */
function rejects(raw: string, ...mentions: (string | RegExp)[]): void {
  assert.throws(
    () => parseBind(raw),
    (err: unknown) => {
      assert.ok(err instanceof PreforkError, `expected a PreforkError for ${JSON.stringify(raw)}, got ${String(err)}`);
      assert.equal(err.exitCode, 2);
      assert.equal(err.exitCode, ExitCode.usage);
      assert.ok(
        err.message.includes(JSON.stringify(raw)),
        `message should name ${JSON.stringify(raw)}: ${err.message}`,
      );
      for (const m of mentions) {
        if (typeof m === 'string')
          assert.ok(err.message.includes(m), `message should mention ${JSON.stringify(m)}: ${err.message}`);
        else assert.match(err.message, m);
      }
      return true;
    },
  );
}

describe('parseBind: accepted forms', () => {
  const cases: [string, BindSpec][] = [
    ['127.0.0.1:8000', { kind: 'tcp', host: '127.0.0.1', port: 8000 }],
    ['0.0.0.0:0', { kind: 'tcp', host: '0.0.0.0', port: 0 }],
    ['10.1.2.3:65535', { kind: 'tcp', host: '10.1.2.3', port: 65535 }],
    ['localhost:3000', { kind: 'tcp', host: 'localhost', port: 3000 }],
    ['example.com:80', { kind: 'tcp', host: 'example.com', port: 80 }],
    ['my-host.internal.example:443', { kind: 'tcp', host: 'my-host.internal.example', port: 443 }],
    ['[::1]:8000', { kind: 'tcp', host: '::1', port: 8000 }],
    ['[::]:0', { kind: 'tcp', host: '::', port: 0 }],
    ['[fe80::1:2]:9000', { kind: 'tcp', host: 'fe80::1:2', port: 9000 }],
    [':8000', { kind: 'tcp', host: '', port: 8000 }],
    [':0', { kind: 'tcp', host: '', port: 0 }],
    ['  127.0.0.1:8000  ', { kind: 'tcp', host: '127.0.0.1', port: 8000 }],
    ['unix:app.sock', { kind: 'unix', path: 'app.sock' }],
    ['unix:./run/app.sock', { kind: 'unix', path: './run/app.sock' }],
    ['unix:/run/app.sock', { kind: 'unix', path: '/run/app.sock' }],
    ['unix:///tmp/bar.sock', { kind: 'unix', path: '/tmp/bar.sock' }],
    ['unix://rel/bar.sock', { kind: 'unix', path: 'rel/bar.sock' }],
    ['unix:@prefork', { kind: 'abstract', name: 'prefork' }],
    ['unix:@my/app.0', { kind: 'abstract', name: 'my/app.0' }],
    ['fd://3', { kind: 'fd', fd: 3 }],
    ['fd://0', { kind: 'fd', fd: 0 }],
    ['fd://42', { kind: 'fd', fd: 42 }],
  ];
  for (const [raw, expected] of cases) {
    test(JSON.stringify(raw), () => {
      assert.deepEqual(parseBind(raw), expected);
    });
  }

  test('a unix path is used exactly as written: no port appended, not resolved', () => {
    for (const path of ['app.sock', './a/../b.sock', '/tmp/x:8000', 'sock:80']) {
      const bind = parseBind(`unix:${path}`);
      assert.deepEqual(bind, { kind: 'unix', path });
      assert.equal(formatBind(bind), `unix:${path}`);
    }
  });

  test(`a unix path of ${UNIX_PATH_MAX_BYTES} bytes is accepted`, () => {
    assert.equal(UNIX_PATH_MAX_BYTES, 107);
    const path = `/${'a'.repeat(106)}`;
    assert.equal(Buffer.byteLength(path), 107);
    assert.deepEqual(parseBind(`unix:${path}`), { kind: 'unix', path });
    assert.deepEqual(parseBind(`unix://${path}`), { kind: 'unix', path });
  });

  test('a multi-byte path of exactly 107 bytes is accepted', () => {
    // 'é' is 2 bytes in UTF-8: 1 + 53*2 = 107 bytes but only 54 characters.
    const path = `/${'é'.repeat(53)}`;
    assert.equal(Buffer.byteLength(path), 107);
    assert.deepEqual(parseBind(`unix:${path}`), { kind: 'unix', path });
  });

  test('an abstract name of 107 bytes is accepted', () => {
    const name = 'n'.repeat(107);
    assert.deepEqual(parseBind(`unix:@${name}`), { kind: 'abstract', name });
  });
});

describe('parseBind: rejections are exit 2 naming the bad value', () => {
  test('port out of range', () => {
    rejects('127.0.0.1:65536', '65536', 'out of range');
    rejects(':65536', '65536');
    rejects('[::1]:99999', '99999');
    rejects('localhost:123456', '123456');
  });

  test('negative port', () => {
    rejects(':-1', '"-1"');
    rejects('127.0.0.1:-1', '"-1"');
  });

  test('non-numeric or empty port', () => {
    rejects('127.0.0.1:abc', '"abc"');
    rejects('localhost:', 'port ""');
    rejects(':', 'port ""');
    rejects('[::1]:', 'port ""');
    rejects('[::1]:80a', '"80a"');
    rejects('127.0.0.1:8 0', '"8 0"');
  });

  test('a bare number suggests :PORT', () => {
    rejects('8000', '":8000"');
    rejects('80', '":80"');
  });

  test('a bare host without port is rejected without the :PORT hint', () => {
    assert.throws(
      () => parseBind('localhost'),
      (err: unknown) => {
        assert.ok(err instanceof PreforkError);
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /"localhost"/);
        assert.doesNotMatch(err.message, /did you mean/);
        return true;
      },
    );
  });

  test('IPv6 without brackets', () => {
    rejects('::1:8000', 'brackets', '[::1]:PORT');
    rejects('fe80::1:80', 'brackets');
    rejects('::', 'brackets');
  });

  test('IPv6 with a missing "]" or a bad address inside brackets', () => {
    rejects('[::1:8000', '"]"');
    rejects('[::1', '"]"');
    rejects('[127.0.0.1]:80', 'not an IPv6 address');
    rejects('[nope]:80', 'not an IPv6 address');
    rejects('[::1]8000', ':PORT');
  });

  test('empty and blank strings', () => {
    rejects('');
    rejects('   ');
  });

  test('unix: and unix:// with nothing after them', () => {
    rejects('unix:', 'empty');
    rejects('unix://', 'empty');
    rejects('unix:@', 'empty');
  });

  test('a NUL byte in a unix path', () => {
    rejects('unix:/tmp/a\0b.sock', 'NUL');
  });

  test('a unix path of 108 bytes is rejected with its byte count', () => {
    const path = `/${'a'.repeat(107)}`;
    assert.equal(Buffer.byteLength(path), 108);
    rejects(`unix:${path}`, '108 bytes', '107');
    rejects(`unix://${path}`, '108 bytes');
  });

  test('bytes, not characters, are counted: a multi-byte path of 108 bytes and 55 characters is rejected', () => {
    const path = `/${'é'.repeat(53)}x`;
    assert.equal(path.length, 55);
    assert.equal(Buffer.byteLength(path), 108);
    rejects(`unix:${path}`, '108 bytes');
    // Three-byte characters: 36 * 3 = 108.
    const cjk = '界'.repeat(36);
    assert.equal(Buffer.byteLength(cjk), 108);
    rejects(`unix:${cjk}`, '108 bytes');
  });

  test('an abstract name of 108 bytes is rejected', () => {
    rejects(`unix:@${'n'.repeat(108)}`, '108 bytes');
  });

  test('bad fd:// values', () => {
    rejects('fd://x', '"x"', 'file descriptor');
    rejects('fd://', 'file descriptor');
    rejects('fd://-1', '"-1"');
    rejects('fd://3.5', '"3.5"');
    rejects('fd://1234567890', 'file descriptor');
  });

  test('other URL schemes', () => {
    rejects('http://x:1', 'HOST:PORT');
    rejects('tcp://127.0.0.1:80');
    rejects('https://example.com:443');
  });

  test('bad host names', () => {
    rejects('-bad:80', '"-bad"', 'host name');
    rejects('bad-:80', '"bad-"');
    rejects('under_score:80', '"under_score"');
    rejects('has space:80', '"has space"');
    rejects('a..b:80', '"a..b"');
    rejects('.leading:80', '".leading"');
    rejects(`${'a'.repeat(64)}:80`, 'host name');
    rejects('[::1]x:80');
  });
});

describe('formatBind', () => {
  test('canonical strings', () => {
    assert.equal(formatBind({ kind: 'tcp', host: '127.0.0.1', port: 8000 }), '127.0.0.1:8000');
    assert.equal(formatBind({ kind: 'tcp', host: '', port: 8000 }), ':8000');
    assert.equal(formatBind({ kind: 'tcp', host: '::1', port: 8000 }), '[::1]:8000');
    assert.equal(formatBind({ kind: 'tcp', host: '::', port: 0 }), '[::]:0');
    assert.equal(formatBind({ kind: 'unix', path: '/run/app.sock' }), 'unix:/run/app.sock');
    assert.equal(formatBind({ kind: 'unix', path: 'rel.sock' }), 'unix:rel.sock');
    assert.equal(formatBind({ kind: 'abstract', name: 'prefork' }), 'unix:@prefork');
    assert.equal(formatBind({ kind: 'fd', fd: 3 }), 'fd://3');
  });

  test('round trip: parseBind(formatBind(parseBind(s))) deep-equals parseBind(s)', () => {
    const inputs = [
      '127.0.0.1:8000',
      '0.0.0.0:0',
      'localhost:3000',
      'example.com:80',
      '[::1]:8000',
      '[::]:0',
      '[fe80::1:2]:9000',
      ':8000',
      ' :9 ',
      'unix:app.sock',
      'unix:./a/b.sock',
      'unix:/run/app.sock',
      'unix:///tmp/bar.sock',
      'unix://rel/bar.sock',
      'unix:/tmp/x:8000',
      'unix:@prefork',
      `unix:/${'é'.repeat(53)}`,
      'fd://3',
      'fd://0',
    ];
    for (const raw of inputs) {
      const once = parseBind(raw);
      const text = formatBind(once);
      assert.deepEqual(parseBind(text), once, `${JSON.stringify(raw)} -> ${JSON.stringify(text)}`);
      // The canonical form is a fixed point.
      assert.equal(formatBind(parseBind(text)), text);
    }
  });

  test('round trip of a unix path that starts with "//"', () => {
    const once = parseBind('unix:////tmp/x.sock');
    assert.deepEqual(once, { kind: 'unix', path: '//tmp/x.sock' });
    assert.deepEqual(parseBind(formatBind(once)), once);
  });
});
