import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { formatBind, parseBind } from '../../src/config/bind.js';
import { configToJSON, resolveConfig } from '../../src/config/config.js';
import { availableCpus } from '../../src/config/cpus.js';
import { type CliOnlyKey, OPTIONS, envName, optionKeys } from '../../src/config/options.js';
import { configFile, dir, json, sources, usage } from '../helpers/config-files.js';

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
