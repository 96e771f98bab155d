import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkOptionNames, checkOptionValues } from '../../src/cli/argv.js';
import { parseClientArgv } from '../../src/cli/control-client.js';
import { addressesOverlap } from '../../src/config/bind.js';
import { type ConfigSources, resolveConfig } from '../../src/config/config.js';
import { PreforkError } from '../../src/shared/exit-codes.js';
import { seconds } from '../../src/config/option-parsers.js';
import { OPTIONS, type OptionDef, type OptionKey, envName, optionKeys } from '../../src/config/options.js';
import { resolveApp } from '../../src/config/preflight.js';
import { closest } from '../../src/config/suggest.js';
import { MAX_TIMER_MS, MAX_TIMER_SECONDS, timerMs } from '../../src/shared/timers.js';

let dir: string;
let counter = 0;
before(() => (dir = mkdtempSync(join(tmpdir(), 'prefork-limits-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(ext: 'json' | 'mjs', body: string): string {
  const path = join(dir, `c-${++counter}.${ext}`);
  writeFileSync(path, body);
  return path;
}
const json = (value: unknown): string => configFile('json', JSON.stringify(value));
const sources = (argv: Partial<Record<OptionKey, unknown>> = {}, env: NodeJS.ProcessEnv = {}): ConfigSources => ({
  argv: { app: 'server.js', ...argv },
  env,
  cwd: dir,
  stdoutIsTTY: false,
});

/** Rejects with exit 2 and a message matching every pattern; returns the message. */
async function usage(work: Promise<unknown> | (() => unknown), ...patterns: (string | RegExp)[]): Promise<string> {
  let message = '';
  const check = (err: unknown): boolean => {
    assert.ok(err instanceof PreforkError, `expected a PreforkError, got ${String(err)}`);
    assert.equal(err.exitCode, 2, err.message);
    message = err.message;
    for (const p of patterns) {
      if (typeof p === 'string')
        assert.ok(err.message.includes(p), `should mention ${JSON.stringify(p)}: ${err.message}`);
      else assert.match(err.message, p);
    }
    return true;
  };
  if (typeof work === 'function') assert.throws(work, check);
  else await assert.rejects(work, check);
  return message;
}

const DURATIONS = optionKeys.filter((k) => (OPTIONS[k] as OptionDef<unknown>).parse === seconds);

describe('durations: at most what a Node timer holds, from every source', () => {
  test('the limit is the 32-bit timer ceiling, in whole seconds', () => {
    assert.equal(MAX_TIMER_MS, 2147483647);
    assert.equal(MAX_TIMER_SECONDS, 2147483);
    // A margin on top (the master's +1 s backstop) stays within the ceiling instead of firing at once.
    assert.equal(timerMs(MAX_TIMER_SECONDS, 1000), MAX_TIMER_MS);
    assert.equal(timerMs(30, 1000), 31_000);
  });

  test('every duration option in the table is one', () => {
    for (const k of [
      'gracefulTimeout',
      'shutdownDelay',
      'keepAliveTimeout',
      'timeout',
      'minUptime',
      'bootTimeout',
      'headersTimeout',
      'requestTimeout',
      'taskTimeout',
    ] as const) {
      assert.ok(DURATIONS.includes(k), `${k} is not validated as a duration`);
    }
  });

  for (const key of DURATIONS) {
    const d = OPTIONS[key] as OptionDef<unknown>;
    test(`${d.name}: ${MAX_TIMER_SECONDS} accepted; 2147484, 3000000, 1e400, NaN refused by CLI, env, config and serve()`, async () => {
      // headers-timeout may not exceed request-timeout: lift that one out of the way.
      const pair = key === 'headersTimeout' ? { requestTimeout: '0' } : {};
      assert.equal(
        (await resolveConfig(sources({ [key]: String(MAX_TIMER_SECONDS), ...pair })))[key],
        MAX_TIMER_SECONDS,
      );
      assert.equal(
        (await resolveConfig(sources({ ...pair, config: json({ [key]: MAX_TIMER_SECONDS }) })))[key],
        MAX_TIMER_SECONDS,
      );
      const expected = `expected a number of seconds from 0 to ${MAX_TIMER_SECONDS} (about 24.8 days)`;
      for (const bad of ['2147484', '3000000', '2147483.5']) {
        await usage(resolveConfig(sources({ [key]: bad, ...pair })), `invalid --${d.name} "${bad}": ${expected}`);
        await usage(resolveConfig(sources({ ...pair }, { [envName(d)]: bad })), `invalid env ${envName(d)} "${bad}"`);
        // serve() passes numbers through the same door as the command line.
        await usage(resolveConfig(sources({ [key]: Number(bad), ...pair })), `invalid --${d.name} ${bad}:`);
      }
      const file = configFile('json', `{"${key}": 1e400}`);
      await usage(
        resolveConfig(sources({ ...pair, config: file })),
        `invalid "${key}" in ${file}: Infinity: ${expected}`,
      );
      await usage(resolveConfig(sources({ [key]: Number.NaN, ...pair })), `invalid --${d.name} NaN:`);
    });
  }
});

describe('sizes that become byte counts stay exact', () => {
  test('--max-memory: MB * 1048576 must be a safe integer', async () => {
    const max = Math.floor(Number.MAX_SAFE_INTEGER / 1048576);
    assert.equal((await resolveConfig(sources({ maxMemory: String(max) }))).maxMemory, max);
    await usage(
      resolveConfig(sources({ maxMemory: String(max + 1) })),
      `invalid --max-memory "${max + 1}": expected a whole number from 0 to ${max}`,
    );
  });

  test('--max-header-size fits the parser (32 bits), and whole numbers refuse Infinity', async () => {
    await usage(
      resolveConfig(sources({ maxHeaderSize: '4294967296' })),
      '--max-header-size',
      'from 1024 to 2147483647',
    );
    await usage(resolveConfig(sources({ workers: Number.POSITIVE_INFINITY })), 'invalid --workers Infinity:');
  });
});

describe('config files: keys as written, typos, exports that never give options', () => {
  test('an unknown key gets the option it probably meant, in the spelling style it used', async () => {
    await usage(
      resolveConfig(sources({ config: json({ threadz: 2 }) })),
      'unknown option "threadz"',
      'did you mean "threads"?',
    );
    await usage(resolveConfig(sources({ config: json({ 'socket-mod': '0600' }) })), 'did you mean "socket-mode"?');
    await usage(resolveConfig(sources({ config: json({ gracefulTimout: 3 }) })), 'did you mean "gracefulTimeout"?');
    await usage(resolveConfig(sources({ config: json({ zzzz: 1 }) })), 'see prefork --help');
  });

  test('a PREFORK_* env name one typo from an option is refused; others are left to the app', async () => {
    await usage(
      resolveConfig(sources({}, { PREFORK_GRACEFUL_TIMOUT: '5' })),
      'unknown env PREFORK_GRACEFUL_TIMOUT: did you mean PREFORK_GRACEFUL_TIMEOUT?',
    );
    const c = await resolveConfig(
      sources({}, { PREFORK_WORKER_ID: '3', PREFORK_UPGRADE: '{}', PREFORK_FEATURE_FLAGS: 'x' }),
    );
    assert.equal(c.app, 'server.js');
  });

  test('one option under two spellings is refused', async () => {
    const file = json({ socketMode: '0600', 'socket-mode': '0640' });
    await usage(
      resolveConfig(sources({ config: file })),
      `option "socket-mode" in config file ${file} is also given as "socketMode"`,
    );
  });

  test('null and 1e400 name the file and the key as written', async () => {
    const file = configFile('json', '{"maxRequests": null}');
    await usage(
      resolveConfig(sources({ config: file })),
      `invalid "maxRequests" in ${file}: null: expected a whole number`,
    );
    const big = configFile('json', '{"backlog": 1e400}');
    await usage(resolveConfig(sources({ config: big })), `invalid "backlog" in ${big}: Infinity`);
  });

  test('a combination names where each value came from', async () => {
    const file = json({ headersTimeout: 400 });
    await usage(
      resolveConfig(sources({ config: file })),
      `invalid "headersTimeout" in ${file}: 400: expected at most --request-timeout 300`,
    );
  });

  test('a default export that is a rejected promise, or a function that rejects, is exit 2 with its message', async () => {
    const promise = configFile(
      'mjs',
      'const p = Promise.reject(new Error("vault down")); p.catch(() => {}); export default p;\n',
    );
    await usage(resolveConfig(sources({ config: promise })), `cannot load config file ${promise}: vault down`);
    const fn = configFile('mjs', 'export default async () => { throw new Error("no secrets"); };\n');
    await usage(resolveConfig(sources({ config: fn })), 'no secrets');
    const thenable = configFile('mjs', 'export default Promise.resolve({ workers: 3 });\n');
    assert.equal((await resolveConfig(sources({ config: thenable }))).workers, 3);
  });
});

describe('the same address twice is exit 2 at config time', () => {
  for (const [what, argv, pattern] of [
    ['two equal TCP binds', { bind: ['127.0.0.1:8000', '127.0.0.1:8000'] }, '--bind 127.0.0.1:8000 is given twice'],
    [
      'a host name in two cases',
      { bind: ['LocalHost:8000', 'localhost:8000'] },
      'is the same address as --bind LocalHost:8000',
    ],
    ['one unix path, relative and absolute', { bind: ['unix:a.sock', 'unix:DIR/a.sock'] }, 'is the same address'],
    [
      'the control socket at a bind path',
      { bind: ['unix:DIR/a.sock'], control: 'DIR/a.sock' },
      '--control unix:DIR/a.sock is the same address as --bind unix:DIR/a.sock',
    ],
    [
      'metrics on a bind address',
      { bind: [':9100'], metricsBind: ':9100' },
      '--metrics-bind :9100 is the same address as --bind :9100',
    ],
    ['fd twice', { bind: ['fd://3', 'fd://3'] }, 'fd://3 is given twice'],
  ] as const) {
    test(what, async () => {
      const sub = (v: unknown): unknown =>
        Array.isArray(v) ? v.map(sub) : typeof v === 'string' ? v.replace('DIR', dir) : v;
      const given = Object.fromEntries(Object.entries(argv).map(([k, v]) => [k, sub(v)]));
      await usage(resolveConfig(sources(given)), pattern.replaceAll('DIR', dir), 'each address can be bound once');
    });
  }

  test('port 0 twice is two ports', async () => {
    assert.equal((await resolveConfig(sources({ bind: ['127.0.0.1:0', '127.0.0.1:0'] }))).bind.length, 2);
  });
});

describe('addressesOverlap: what the kernel lets two unlistened sockets share', () => {
  const cases: [string, number, string, number, boolean][] = [
    ['127.0.0.1', 80, '127.0.0.1', 80, true],
    ['0.0.0.0', 80, '127.0.0.1', 80, true],
    ['::', 80, '127.0.0.1', 80, true],
    ['::', 80, '::1', 80, true],
    ['::ffff:127.0.0.1', 80, '127.0.0.1', 80, true],
    ['0.0.0.0', 80, '::1', 80, false],
    ['127.0.0.1', 80, '::1', 80, false],
    ['127.0.0.1', 80, '127.0.0.2', 80, false],
    ['0.0.0.0', 80, '0.0.0.0', 81, false],
  ];
  for (const [a, pa, b, pb, want] of cases) {
    test(`${a}:${pa} and ${b}:${pb}: ${want ? 'overlap' : 'apart'}`, () => {
      assert.equal(addressesOverlap({ address: a, port: pa }, { address: b, port: pb }), want);
      assert.equal(addressesOverlap({ address: b, port: pb }, { address: a, port: pa }), want);
    });
  }
});

describe('the command line names unknown options as typed', () => {
  test('with a suggestion when one option is close', async () => {
    await usage(
      () => checkOptionNames(['--wokers', '2', 'app.js']),
      'unknown option --wokers: did you mean --workers?',
    );
    await usage(
      () => checkOptionNames(['--gracefull-timeout=3', 'app.js']),
      'unknown option --gracefull-timeout: did you mean --graceful-timeout?',
    );
    await usage(() => checkOptionNames(['--no-acess-log', 'app.js']), 'did you mean --no-access-log?');
  });

  test('--no-X is named whole, and only booleans have a negation', async () => {
    await usage(
      () => checkOptionNames(['--no-such-flag', 'app.js']),
      'unknown option --no-such-flag: see prefork --help',
    );
    await usage(() => checkOptionNames(['--no-workers', 'app.js']), 'unknown option --no-workers');
    await usage(() => checkOptionNames(['-x', 'app.js']), 'unknown option -x');
  });

  test('what is known passes: names, aliases, negations, values that look numeric, and after --', () => {
    checkOptionNames([
      '-w',
      '-1',
      '--no-balance',
      '--bind=:1',
      '-b',
      ':2',
      '--check-config',
      '--help',
      '-h',
      '--version',
      'a.js',
      '--',
      '--whatever',
    ]);
  });

  test('an option without its value is named as typed', async () => {
    await usage(() => checkOptionValues(['app.js', '-w']), '-w needs a value: number of worker processes');
    await usage(
      () => checkOptionValues(['--graceful-timeout', '--workers', '2', 'app.js']),
      '--graceful-timeout needs a value',
    );
    checkOptionValues(['-w', '-1', '--access-log', '--name=x', '-b', ':1', 'app.js']);
  });

  test('the control client names its unknown options too', async () => {
    await usage(
      parseClientArgv(['status', '--contrl', '/x.sock'], {}),
      'unknown option --contrl: did you mean --control?',
    );
    assert.equal((await parseClientArgv(['status', '--control', '/x.sock', '--json'], {})).json, true);
  });

  test('closest(): one candidate within reach, or none', () => {
    assert.equal(closest('wokers', ['workers', 'bind']), 'workers');
    assert.equal(closest('statu', ['status', 'stop', 'scale', 'reload']), 'status');
    assert.equal(closest('xyz', ['workers', 'bind']), null);
    // A tie is no suggestion: guessing between two is worse than none.
    assert.equal(closest('ab', ['aa', 'bb']), null);
  });
});

describe('an APP that is a misspelt or misplaced command', () => {
  test('is exit 2 saying so, when no such file exists', async () => {
    await usage(
      () => resolveApp('statu', dir),
      'unknown command "statu" (and no app file statu): did you mean prefork status --control PATH?',
    );
    await usage(() => resolveApp('reload', dir), '"reload" is a command, not an app file: it goes first');
  });

  test('a file of that name is an app; other missing files stay exit 4', () => {
    writeFileSync(join(dir, 'status.js'), 'module.exports = () => {};\n');
    assert.equal(resolveApp('status', dir), join(dir, 'status.js'));
    assert.throws(
      () => resolveApp('nothing-like-it.js', dir),
      (err: unknown) => err instanceof PreforkError && err.exitCode === 4,
    );
  });
});
