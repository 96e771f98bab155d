import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatBind, parseBind } from '../../src/config/bind.js';
import { type ConfigSources, configToJSON, resolveConfig } from '../../src/config/config.js';
import { availableCpus } from '../../src/config/cpus.js';
import { PreforkError } from '../../src/shared/exit-codes.js';
import { octalMode } from '../../src/config/option-parsers.js';
import { type CliOnlyKey, OPTIONS, type OptionKey, envName, optionKeys } from '../../src/config/options.js';

let dir: string;
let counter = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefork-options-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a config file with a fresh name (ESM imports are cached by URL) and returns its path. */
function configFile(ext: 'json' | 'mjs' | 'cjs', body: string): string {
  const path = join(dir, `config-${++counter}.${ext}`);
  writeFileSync(path, body);
  return path;
}

const json = (value: unknown): string => configFile('json', JSON.stringify(value));

function sources(
  argv: Partial<Record<OptionKey, unknown>> = {},
  env: NodeJS.ProcessEnv = {},
  stdoutIsTTY = false,
): ConfigSources {
  return { argv: { app: 'server.js', ...argv }, env, cwd: dir, stdoutIsTTY };
}

/** Asserts the promise rejects with a PreforkError, exit code 2, whose message contains every mention. */
async function usage(promise: Promise<unknown>, ...mentions: (string | RegExp)[]): Promise<string> {
  let message = '';
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof PreforkError, `expected a PreforkError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    message = err.message;
    for (const m of mentions) {
      if (typeof m === 'string')
        assert.ok(err.message.includes(m), `message should mention ${JSON.stringify(m)}: ${err.message}`);
      else assert.match(err.message, m);
    }
    return true;
  });
  return message;
}

describe('defaults', () => {
  test('with nothing but APP', async () => {
    const c = await resolveConfig(sources());
    assert.equal(c.app, 'server.js');
    assert.deepEqual(c.bind, [{ kind: 'tcp', host: '127.0.0.1', port: 8000 }]);
    assert.equal(c.workers, availableCpus());
    assert.equal(c.gracefulTimeout, 30);
    assert.equal(c.keepAliveTimeout, 5);
    assert.equal(c.backlog, 2048);
    assert.equal(c.socketMode, 0o660);
    assert.equal(c.factory, false);
    assert.equal(c.name, null);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.logFormat, 'json');
    assert.equal(c.accessLog, false);
    assert.equal(c.config, null);
    assert.equal(c.checkConfig, false);
    // Off unless asked for: no threads, no task limit, and no file watching in production.
    assert.equal(c.threads, 0);
    assert.equal(c.taskTimeout, 0);
    assert.equal(c.reload, false);
  });

  test('log format is pretty on a TTY', async () => {
    assert.equal((await resolveConfig(sources({}, {}, true))).logFormat, 'pretty');
    assert.equal((await resolveConfig(sources({ logFormat: 'json' }, {}, true))).logFormat, 'json');
  });

  test('log format is json into a log file even with a TTY, unless asked for', async () => {
    assert.equal((await resolveConfig(sources({ logFile: 'x.log' }, {}, true))).logFormat, 'json');
    assert.equal((await resolveConfig(sources({}, { PREFORK_LOG_FILE: 'x.log' }, true))).logFormat, 'json');
    assert.equal(
      (await resolveConfig(sources({ logFile: 'x.log', logFormat: 'pretty' }, {}, true))).logFormat,
      'pretty',
    );
  });

  test('env names are PREFORK_ + the flag name', () => {
    assert.equal(envName(OPTIONS.workers), 'PREFORK_WORKERS');
    assert.equal(envName(OPTIONS.gracefulTimeout), 'PREFORK_GRACEFUL_TIMEOUT');
    assert.equal(envName(OPTIONS.socketMode), 'PREFORK_SOCKET_MODE');
  });

  test('the result is frozen, bind list included', async () => {
    const c = await resolveConfig(sources({ bind: [':1', ':2'] }));
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.bind));
    assert.throws(() => {
      (c as { workers: number }).workers = 99;
    }, TypeError);
    assert.throws(() => {
      (c.bind as unknown as unknown[]).push(parseBind(':3'));
    }, TypeError);
  });

  test('missing APP is exit 2 mentioning APP', async () => {
    await usage(resolveConfig({ argv: {}, env: {}, cwd: dir, stdoutIsTTY: false }), 'APP');
  });

  test('APP may come from env or a config file', async () => {
    assert.equal(
      (await resolveConfig({ argv: {}, env: { PREFORK_APP: 'env.js' }, cwd: dir, stdoutIsTTY: false })).app,
      'env.js',
    );
    const file = json({ app: 'file.js' });
    assert.equal(
      (await resolveConfig({ argv: { config: file }, env: {}, cwd: dir, stdoutIsTTY: false })).app,
      'file.js',
    );
  });
});

describe('precedence: CLI > env > config file > defaults', () => {
  test('workers from each layer', async () => {
    const file = json({ workers: 2 });
    assert.equal((await resolveConfig(sources({ config: file }))).workers, 2);
    assert.equal((await resolveConfig(sources({ config: file }, { PREFORK_WORKERS: '3' }))).workers, 3);
    assert.equal((await resolveConfig(sources({ config: file, workers: '4' }, { PREFORK_WORKERS: '3' }))).workers, 4);
    assert.equal((await resolveConfig(sources({ workers: '4' }, { PREFORK_WORKERS: '3' }))).workers, 4);
    assert.equal((await resolveConfig(sources({}, { PREFORK_WORKERS: '3' }))).workers, 3);
  });

  test('each option is resolved independently across layers', async () => {
    const file = json({ workers: 2, logLevel: 'debug', 'graceful-timeout': 7, backlog: 100 });
    const c = await resolveConfig(sources({ config: file, backlog: '300' }, { PREFORK_LOG_LEVEL: 'warn' }));
    assert.equal(c.workers, 2);
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.gracefulTimeout, 7);
    assert.equal(c.backlog, 300);
    assert.equal(c.keepAliveTimeout, 5);
  });

  test('an empty env var counts as unset', async () => {
    const file = json({ workers: 2 });
    assert.equal((await resolveConfig(sources({ config: file }, { PREFORK_WORKERS: '' }))).workers, 2);
  });

  test('config file chosen by env PREFORK_CONFIG; --config wins over it', async () => {
    const a = json({ workers: 5 });
    const b = json({ workers: 6 });
    const viaEnv = await resolveConfig(sources({}, { PREFORK_CONFIG: a }));
    assert.equal(viaEnv.workers, 5);
    assert.equal(viaEnv.config, a);
    const viaCli = await resolveConfig(sources({ config: b }, { PREFORK_CONFIG: a }));
    assert.equal(viaCli.workers, 6);
    assert.equal(viaCli.config, b);
  });

  test('a relative config path resolves from cwd', async () => {
    const file = json({ workers: 7 });
    const name = file.slice(dir.length + 1);
    assert.equal((await resolveConfig(sources({ config: name }))).workers, 7);
  });

  test('log-file: null (stdout) by default; from any layer, resolved once against cwd', async () => {
    assert.equal((await resolveConfig(sources())).logFile, null);
    assert.equal((await resolveConfig(sources({ logFile: 'logs/app.log' }))).logFile, join(dir, 'logs', 'app.log'));
    assert.equal(
      (await resolveConfig(sources({}, { PREFORK_LOG_FILE: '/var/log/app.log' }))).logFile,
      '/var/log/app.log',
    );
    assert.equal(
      (await resolveConfig(sources({ config: json({ 'log-file': 'from-file.log' }) }))).logFile,
      join(dir, 'from-file.log'),
    );
  });

  test('.mjs config: default export object', async () => {
    const file = configFile(
      'mjs',
      `export default { workers: 3, socketMode: '0600', bind: [':9001', 'unix:/tmp/x.sock'] };\n`,
    );
    const c = await resolveConfig(sources({ config: file }));
    assert.equal(c.workers, 3);
    assert.equal(c.socketMode, 0o600);
    assert.deepEqual(c.bind, [
      { kind: 'tcp', host: '', port: 9001 },
      { kind: 'unix', path: '/tmp/x.sock' },
    ]);
  });

  test('.mjs config: default export (async) function', async () => {
    const file = configFile('mjs', `export default async () => ({ workers: 9, 'log-level': 'error' });\n`);
    const c = await resolveConfig(sources({ config: file }));
    assert.equal(c.workers, 9);
    assert.equal(c.logLevel, 'error');
  });

  test('.cjs config: module.exports', async () => {
    const file = configFile('cjs', `module.exports = { workers: 4, gracefulTimeout: 1.5, factory: true };\n`);
    const c = await resolveConfig(sources({ config: file }));
    assert.equal(c.workers, 4);
    assert.equal(c.gracefulTimeout, 1.5);
    assert.equal(c.factory, true);
    // CLI and env still win over a JS config file.
    const d = await resolveConfig(sources({ config: file, workers: '8' }, { PREFORK_GRACEFUL_TIMEOUT: '2' }));
    assert.equal(d.workers, 8);
    assert.equal(d.gracefulTimeout, 2);
  });

  test('bind: CLI list, comma-separated env, config file', async () => {
    assert.deepEqual((await resolveConfig(sources({ bind: ['127.0.0.1:1', '[::1]:2'] }))).bind, [
      { kind: 'tcp', host: '127.0.0.1', port: 1 },
      { kind: 'tcp', host: '::1', port: 2 },
    ]);
    assert.deepEqual((await resolveConfig(sources({}, { PREFORK_BIND: ':1,unix:@x' }))).bind, [
      { kind: 'tcp', host: '', port: 1 },
      { kind: 'abstract', name: 'x' },
    ]);
    const file = json({ bind: 'fd://3' });
    assert.deepEqual((await resolveConfig(sources({ config: file }))).bind, [{ kind: 'fd', fd: 3 }]);
    assert.deepEqual((await resolveConfig(sources({ config: file }, { PREFORK_BIND: ':5' }))).bind, [
      { kind: 'tcp', host: '', port: 5 },
    ]);
    assert.deepEqual((await resolveConfig(sources({ config: file, bind: [':6'] }, { PREFORK_BIND: ':5' }))).bind, [
      { kind: 'tcp', host: '', port: 6 },
    ]);
  });
});

describe('foreign conventions: PORT and WEB_CONCURRENCY', () => {
  test('env PORT gives 0.0.0.0:$PORT when no bind is given anywhere', async () => {
    const c = await resolveConfig(sources({}, { PORT: '5000' }));
    assert.deepEqual(c.bind, [{ kind: 'tcp', host: '0.0.0.0', port: 5000 }]);
  });

  test('env PORT loses to --bind, env PREFORK_BIND and a config file bind', async () => {
    const expected = [{ kind: 'tcp', host: '127.0.0.1', port: 9 }];
    assert.deepEqual((await resolveConfig(sources({ bind: ['127.0.0.1:9'] }, { PORT: '5000' }))).bind, expected);
    assert.deepEqual((await resolveConfig(sources({}, { PORT: '5000', PREFORK_BIND: '127.0.0.1:9' }))).bind, expected);
    const file = json({ bind: ['127.0.0.1:9'] });
    assert.deepEqual((await resolveConfig(sources({ config: file }, { PORT: '5000' }))).bind, expected);
  });

  test('a config file without bind still lets env PORT decide', async () => {
    const file = json({ workers: 2 });
    assert.deepEqual((await resolveConfig(sources({ config: file }, { PORT: '5000' }))).bind, [
      { kind: 'tcp', host: '0.0.0.0', port: 5000 },
    ]);
  });

  test('a bad env PORT is exit 2 naming it', async () => {
    await usage(resolveConfig(sources({}, { PORT: 'http' })), 'env PORT', '"http"');
    await usage(resolveConfig(sources({}, { PORT: '70000' })), 'env PORT', '"70000"');
  });

  test('WEB_CONCURRENCY is the default worker count', async () => {
    assert.equal((await resolveConfig(sources({}, { WEB_CONCURRENCY: '3' }))).workers, 3);
  });

  test('a config file, env PREFORK_WORKERS or --workers override WEB_CONCURRENCY', async () => {
    const file = json({ workers: 2 });
    assert.equal((await resolveConfig(sources({ config: file }, { WEB_CONCURRENCY: '3' }))).workers, 2);
    assert.equal((await resolveConfig(sources({}, { WEB_CONCURRENCY: '3', PREFORK_WORKERS: '5' }))).workers, 5);
    assert.equal((await resolveConfig(sources({ workers: '6' }, { WEB_CONCURRENCY: '3' }))).workers, 6);
  });

  test('a bad WEB_CONCURRENCY is exit 2 naming it', async () => {
    await usage(resolveConfig(sources({}, { WEB_CONCURRENCY: '0' })), 'env WEB_CONCURRENCY', '"0"');
  });
});

describe('bad values are exit 2 naming the value and its source', () => {
  for (const bad of ['0', '-1', 'abc', '1.5']) {
    test(`workers ${JSON.stringify(bad)} from --workers, env and config file`, async () => {
      await usage(resolveConfig(sources({ workers: bad })), '--workers', `"${bad}"`);
      await usage(resolveConfig(sources({}, { PREFORK_WORKERS: bad })), 'env PREFORK_WORKERS', `"${bad}"`);
      const file = json({ workers: bad });
      await usage(resolveConfig(sources({ config: file })), `"workers" in ${file}`, `"${bad}"`);
    });
  }

  test('workers as JSON numbers in a config file', async () => {
    for (const bad of [0, -1, 1.5, 1025]) {
      const file = json({ workers: bad });
      await usage(resolveConfig(sources({ config: file })), `"workers" in ${file}`, String(bad));
    }
  });

  for (const bad of ['0999', '8', 'rw', '01000', '']) {
    test(`socket-mode ${JSON.stringify(bad)}`, async () => {
      await usage(resolveConfig(sources({ socketMode: bad })), '--socket-mode', `"${bad}"`, 'octal');
      if (bad !== '')
        await usage(resolveConfig(sources({}, { PREFORK_SOCKET_MODE: bad })), 'env PREFORK_SOCKET_MODE', `"${bad}"`);
      const file = json({ 'socket-mode': bad });
      await usage(resolveConfig(sources({ config: file })), `"socket-mode" in ${file}`, `"${bad}"`);
    });
  }

  test('log-level "loud"', async () => {
    await usage(resolveConfig(sources({ logLevel: 'loud' })), '--log-level', '"loud"', 'info');
    await usage(resolveConfig(sources({}, { PREFORK_LOG_LEVEL: 'loud' })), 'env PREFORK_LOG_LEVEL', '"loud"');
    const file = json({ logLevel: 'loud' });
    await usage(resolveConfig(sources({ config: file })), `"logLevel" in ${file}: "loud"`);
  });

  test('graceful-timeout "-1"', async () => {
    await usage(resolveConfig(sources({ gracefulTimeout: '-1' })), '--graceful-timeout', '"-1"');
    await usage(resolveConfig(sources({}, { PREFORK_GRACEFUL_TIMEOUT: '-1' })), 'env PREFORK_GRACEFUL_TIMEOUT', '"-1"');
    const file = json({ gracefulTimeout: -1 });
    await usage(resolveConfig(sources({ config: file })), `"gracefulTimeout" in ${file}: -1`);
  });

  test('other bad values', async () => {
    await usage(resolveConfig(sources({ keepAliveTimeout: 'soon' })), '--keep-alive-timeout', '"soon"');
    await usage(resolveConfig(sources({ backlog: '0' })), '--backlog', '"0"');
    await usage(resolveConfig(sources({ logFormat: 'xml' })), '--log-format', '"xml"');
    await usage(resolveConfig(sources({}, { PREFORK_FACTORY: 'maybe' })), 'env PREFORK_FACTORY', '"maybe"');
    await usage(resolveConfig(sources({ app: '   ' })), 'APP');
    await usage(resolveConfig(sources({ bind: ['8000'] })), '"8000"', ':8000');
    await usage(resolveConfig(sources({}, { PREFORK_BIND: 'nope' })), '"nope"');
  });

  test('a bad bind names its source', async () => {
    await usage(resolveConfig(sources({}, { PREFORK_BIND: '8000' })), '"8000"', 'env PREFORK_BIND');
    const file = json({ bind: '8000' });
    await usage(resolveConfig(sources({ config: file })), '"8000"', `"bind" in ${file}`);
  });

  test('the first layer that sets a value is the only one validated', async () => {
    // A bad env value is ignored when the CLI sets the option, and a bad file value when env does.
    assert.equal((await resolveConfig(sources({ workers: '2' }, { PREFORK_WORKERS: 'abc' }))).workers, 2);
    const file = json({ workers: 'abc' });
    assert.equal((await resolveConfig(sources({ config: file }, { PREFORK_WORKERS: '3' }))).workers, 3);
  });
});

describe('config file errors', () => {
  test('unknown key', async () => {
    const file = json({ workers: 2, wrokers: 3 });
    await usage(resolveConfig(sources({ config: file })), '"wrokers"', file);
  });

  test('CLI-only keys are unknown in a config file', async () => {
    const file = json({ checkConfig: true });
    await usage(resolveConfig(sources({ config: file })), '"checkConfig"', file);
  });

  test('file not found (.json, .mjs, .cjs)', async () => {
    for (const name of ['missing.json', 'missing.mjs', 'missing.cjs']) {
      const file = join(dir, name);
      await usage(resolveConfig(sources({ config: file })), file, 'not found');
    }
    await usage(resolveConfig(sources({}, { PREFORK_CONFIG: join(dir, 'gone.json') })), 'gone.json', 'not found');
  });

  test('invalid JSON', async () => {
    const file = configFile('json', '{ "workers": 2, }');
    await usage(resolveConfig(sources({ config: file })), file, 'not valid JSON');
  });

  test('a config file holding an array, a string or null', async () => {
    await usage(resolveConfig(sources({ config: json([{ workers: 2 }]) })), 'an array');
    await usage(resolveConfig(sources({ config: json('workers') })), 'string');
    await usage(resolveConfig(sources({ config: json(null) })), 'object');
    await usage(resolveConfig(sources({ config: configFile('mjs', 'export const workers = 2;\n') })), 'undefined');
  });

  test('a JS config file that throws', async () => {
    const file = configFile('cjs', `throw new Error('boom in config');\n`);
    await usage(resolveConfig(sources({ config: file })), file, 'boom in config');
  });

  test('unsupported extension', async () => {
    const file = join(dir, 'prefork.yaml');
    writeFileSync(file, 'workers: 2\n');
    await usage(resolveConfig(sources({ config: file })), file, '.json');
  });
});

describe('octal socket modes', () => {
  const cases: [unknown, number][] = [
    ['0660', 0o660],
    ['600', 0o600],
    ['0o644', 0o644],
    ['0O640', 0o640],
    ['0', 0],
    ['0777', 0o777],
    ['  0640 ', 0o640],
  ];
  for (const [raw, expected] of cases) {
    test(`${JSON.stringify(raw)} -> 0o${expected.toString(8)}`, () => {
      assert.equal(octalMode(raw, '--socket-mode'), expected);
    });
  }

  test('through resolveConfig from each layer', async () => {
    assert.equal((await resolveConfig(sources({ socketMode: '0660' }))).socketMode, 0o660);
    assert.equal((await resolveConfig(sources({}, { PREFORK_SOCKET_MODE: '600' }))).socketMode, 0o600);
    assert.equal((await resolveConfig(sources({ config: json({ socketMode: '0o644' }) }))).socketMode, 0o644);
  });

  test('a number is refused from every source: 440 would be 0o670 in JSON but 0o440 on the command line', async () => {
    for (const raw of [440, 0o600, 660])
      assert.throws(
        () => octalMode(raw, '--socket-mode'),
        /as a string, e\.g\. "0660" \(a number would read as decimal\)/,
      );
    const file = json({ socketMode: 440 });
    await usage(
      resolveConfig(sources({ config: file })),
      `invalid "socketMode" in ${file}: 440: expected an octal file mode as a string`,
    );
    const mjs = configFile('mjs', 'export default { socketMode: 0o600 };\n');
    await usage(resolveConfig(sources({ config: mjs })), `"socketMode" in ${mjs}: 384`);
  });
});

describe('configToJSON', () => {
  test('binds as canonical strings, socketMode as an octal string, no CLI-only keys', async () => {
    const c = await resolveConfig(
      sources({ bind: ['127.0.0.1:8000', '[::1]:9000', 'unix:///tmp/a.sock', 'unix:@abs', 'fd://3'], workers: '2' }),
    );
    const out = configToJSON(c, formatBind);
    assert.deepEqual(out.bind, ['127.0.0.1:8000', '[::1]:9000', 'unix:/tmp/a.sock', 'unix:@abs', 'fd://3']);
    assert.equal(out.socketMode, '0660');
    assert.equal(out.workers, 2);
    assert.equal(out.app, 'server.js');
    assert.equal(out.logLevel, 'info');
    assert.ok(!('checkConfig' in out));
    for (const key of optionKeys) if (!OPTIONS[key].cliOnly) assert.ok(key in out, `${key} missing from configToJSON`);
    // JSON-serialisable and stable.
    assert.deepEqual(JSON.parse(JSON.stringify(out)), out);
  });

  test('socketMode 0600 prints as "0600"', async () => {
    const c = await resolveConfig(sources({ socketMode: '600' }));
    assert.equal(configToJSON(c, formatBind).socketMode, '0600');
  });

  test('the printed config reads back as the same config', async () => {
    const c = await resolveConfig(
      sources({ bind: [':1', 'unix:rel.sock'], socketMode: '0640', workers: '3', name: 'svc' }),
    );
    const out = configToJSON(c, formatBind);
    const file = json(out);
    const again = await resolveConfig({ argv: { config: file }, env: {}, cwd: dir, stdoutIsTTY: false });
    assert.deepEqual({ ...again, config: null }, { ...c, config: null });
  });
});

describe('ConfigInput (the typed options of config files and serve())', () => {
  test('leaves out exactly the options the table marks CLI-only', () => {
    const cliOnly: CliOnlyKey[] = ['checkConfig'];
    assert.deepEqual(
      optionKeys.filter((key) => OPTIONS[key].cliOnly),
      cliOnly,
    );
  });

  test('--threads, --task-timeout and --reload from the command line, env and a config file', async () => {
    const c = await resolveConfig(sources({ threads: '4', taskTimeout: '2.5', reload: true }));
    assert.deepEqual([c.threads, c.taskTimeout, c.reload], [4, 2.5, true]);
    const e = await resolveConfig(
      sources({}, { PREFORK_THREADS: '2', PREFORK_TASK_TIMEOUT: '1', PREFORK_RELOAD: 'yes' }),
    );
    assert.deepEqual([e.threads, e.taskTimeout, e.reload], [2, 1, true]);
    const f = await resolveConfig(sources({ config: json({ threads: 3, 'task-timeout': 10 }) }));
    assert.deepEqual([f.threads, f.taskTimeout, f.reload], [3, 10, false]);
    await usage(resolveConfig(sources({ threads: '257' })), '--threads', '"257"', 'from 0 to 256');
  });
});
