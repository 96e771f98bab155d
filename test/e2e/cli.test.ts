import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPTIONS, envName } from '../../src/options.js';
import { app, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

type Resolved = Record<string, unknown> & { bind: string[]; workers: number };

async function checkConfig(t: Parameters<typeof runPrefork>[0], args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Resolved> {
  const r = await runPrefork(t, ['--check-config', ...args], { env: { PORT: undefined, WEB_CONCURRENCY: undefined, ...env }, cwd });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Resolved;
}

test('--check-config prints the resolved config; precedence is CLI > env > config file > defaults', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'prefork.json'), JSON.stringify({ workers: 3, 'graceful-timeout': 7, keepAliveTimeout: 9, bind: ['unix:/tmp/from-file.sock'] }));
  const fromFile = await checkConfig(t, ['--config', join(dir, 'prefork.json'), 'app.js']);
  assert.equal(fromFile.workers, 3);
  assert.equal(fromFile.gracefulTimeout, 7);
  assert.equal(fromFile.keepAliveTimeout, 9);
  assert.deepEqual(fromFile.bind, ['unix:/tmp/from-file.sock']);
  assert.equal(fromFile.app, 'app.js');
  assert.equal(fromFile.socketMode, '0660');

  const envWins = await checkConfig(t, ['--config', join(dir, 'prefork.json'), 'app.js'], { PREFORK_WORKERS: '5' });
  assert.equal(envWins.workers, 5);
  const cliWins = await checkConfig(t, ['--config', join(dir, 'prefork.json'), '-w', '6', 'app.js'], { PREFORK_WORKERS: '5' });
  assert.equal(cliWins.workers, 6);
  assert.equal(cliWins.gracefulTimeout, 7);
});

test('a .mjs config file works, found through env PREFORK_CONFIG', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'prefork.config.mjs'), "export default { workers: 2, bind: ':9000', app: 'server.js' };\n");
  const c = await checkConfig(t, [], { PREFORK_CONFIG: join(dir, 'prefork.config.mjs') });
  assert.deepEqual([c.workers, c.bind, c.app], [2, [':9000'], 'server.js']);
});

test('defaults: 127.0.0.1:8000; PORT gives 0.0.0.0:$PORT only when no bind is given; WEB_CONCURRENCY sets workers', async (t) => {
  const plain = await checkConfig(t, ['app.js']);
  assert.deepEqual(plain.bind, ['127.0.0.1:8000']);
  assert.equal(plain.gracefulTimeout, 30);
  assert.equal(plain.backlog, 2048);
  assert.equal(plain.keepAliveTimeout, 5);
  const port = await checkConfig(t, ['app.js'], { PORT: '9123', WEB_CONCURRENCY: '3' });
  assert.deepEqual(port.bind, ['0.0.0.0:9123']);
  assert.equal(port.workers, 3);
  const explicit = await checkConfig(t, ['-b', 'unix:/tmp/x.sock', '-b', '[::1]:81', '-w', '2', 'app.js'], { PORT: '9123', WEB_CONCURRENCY: '3' });
  assert.deepEqual(explicit.bind, ['unix:/tmp/x.sock', '[::1]:81']);
  assert.equal(explicit.workers, 2);
  const envBind = await checkConfig(t, ['app.js'], { PORT: '9123', PREFORK_BIND: 'unix:/tmp/y.sock' });
  assert.deepEqual(envBind.bind, ['unix:/tmp/y.sock']);
});

test('--help lists every option with its env name', async (t) => {
  const r = await runPrefork(t, ['--help']);
  assert.equal(r.code, 0);
  for (const d of Object.values(OPTIONS)) {
    if (d.cli === 'positional') continue;
    assert.ok(r.stdout.includes(`--${d.name}`), `--help lacks --${d.name}`);
    if (!d.cliOnly) assert.ok(r.stdout.includes(envName(d)), `--help lacks ${envName(d)}`);
  }
  assert.match(r.stdout, /SIGTERM/);
  assert.match(r.stdout, /Exit codes/);
});

test('--log-format pretty writes human lines', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--log-format', 'pretty', app('pid.cjs')]);
  await new Promise<void>((done) => {
    const check = (): void => (p.stdout.includes('workers serving') ? done() : void setTimeout(check, 50));
    check();
  });
  assert.match(p.stdout, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}master \(\d+\) listening on http:\/\/127\.0\.0\.1:\d+/m);
  assert.match(p.stdout, /INFO {2}master \(\d+\) ready: 1 workers serving/);
  assert.equal(p.logs.filter((l) => l.event !== 'non-json').length, 0, 'no JSON lines in pretty mode');
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(p.stdout)?.[1]);
  assert.equal((await request({ host: '127.0.0.1', port })).status, 200);
});

const BAD: Array<[string[], NodeJS.ProcessEnv, RegExp, string?]> = [
  [['-b', '8000'], {}, /invalid --bind "8000".*did you mean ":8000"/],
  [['-b', '127.0.0.1:99999'], {}, /invalid --bind "127.0.0.1:99999": port 99999 is out of range/],
  [['-b', '[::1:80'], {}, /invalid --bind "\[::1:80": missing "\]"/],
  [['-b', '::1:80'], {}, /invalid --bind "::1:80": an IPv6 address needs brackets/],
  [['-b', 'unix:'], {}, /invalid --bind "unix:": the socket path is empty/],
  [['-b', 'fd://three'], {}, /invalid --bind "fd:\/\/three"/],
  [['-b', 'tcp://1.2.3.4:5'], {}, /invalid --bind "tcp:\/\/1.2.3.4:5"/],
  [['-w', '0'], {}, /invalid --workers "0": expected a whole number from 1 to 1024/],
  [['-w', '-1'], {}, /--workers/],
  [['-w', 'abc'], {}, /invalid --workers "abc"/],
  [['-w', '2.5'], {}, /invalid --workers "2.5"/],
  [['--socket-mode', '0999'], {}, /invalid --socket-mode "0999": expected an octal file mode/],
  [['--socket-mode', 'rw'], {}, /invalid --socket-mode "rw"/],
  [['--graceful-timeout', 'soon'], {}, /invalid --graceful-timeout "soon": expected a number of seconds/],
  [['--keep-alive-timeout', '-5'], {}, /--keep-alive-timeout/],
  [['--backlog', '0'], {}, /invalid --backlog "0"/],
  [['--log-level', 'loud'], {}, /invalid --log-level "loud": expected one of fatal, error, warn, info, debug, trace, silent/],
  [['--log-format', 'xml'], {}, /invalid --log-format "xml"/],
  [['--frobnicate'], {}, /Unknown argument: frobnicate/],
  [['--config', '/nonexistent/prefork.json'], {}, /cannot read config file \/nonexistent\/prefork.json: file not found/],
  [['--config', 'prefork.yaml'], {}, /invalid config file "prefork.yaml": expected a .json, .js, .mjs or .cjs file/],
  [[], { PREFORK_WORKERS: 'zero' }, /invalid env PREFORK_WORKERS "zero"/],
  [[], { PORT: 'http' }, /invalid env PORT "http"/],
  [[], { WEB_CONCURRENCY: '0' }, /invalid env WEB_CONCURRENCY "0"/],
  [[], { PREFORK_BIND: 'nowhere' }, /invalid env PREFORK_BIND "nowhere"/],
  [[], { PREFORK_ACCESS_LOG: 'maybe' }, /invalid env PREFORK_ACCESS_LOG "maybe": expected true or false/],
  [['--config', 'CONFIG'], {}, /unknown option "threadz" in config file/, '{"threadz": 4}'],
  [['--config', 'CONFIG'], {}, /invalid "workers" in .*bad.json "many"/, '{"workers": "many"}'],
  [['--config', 'CONFIG'], {}, /config file .*bad.json is not valid JSON/, '{workers: 2'],
  [['--config', 'CONFIG'], {}, /config file .*bad.json must hold an object of options, got an array/, '[1, 2]'],
];

test('bad input: exit 2, one line naming the bad value, nothing created', async (t) => {
  for (const [args, env, message, configText] of BAD) {
    const dir = tempDir(t);
    const config = join(dir, 'bad.json');
    if (configText !== undefined) writeFileSync(config, configText);
    const argv = args.map((a) => (a === 'CONFIG' ? config : a));
    const hasBind = argv.includes('-b') || env.PREFORK_BIND !== undefined || env.PORT !== undefined;
    const full = [...argv, ...(hasBind ? [] : ['-b', `unix:${join(dir, 'app.sock')}`]), app('pid.cjs')];
    const r = await runPrefork(t, full, { env: { PORT: undefined, WEB_CONCURRENCY: undefined, ...env }, cwd: dir });
    const what = `${argv.join(' ')} ${JSON.stringify(env)}`;
    assert.equal(r.code, 2, `${what}: exit ${r.code}, stderr ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
    assert.match(lines[0]!, message, what);
    assert.deepEqual(readdirSync(dir).filter((f) => f !== 'bad.json'), [], `${what} created files`);
    assert.equal(r.stdout, '', `${what} started logging`);
  }
});

test('missing APP is exit 2', async (t) => {
  const r = await runPrefork(t, ['-w', '1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr.trim(), /^prefork: missing APP: expected path\/to\/module\[:export\]/);
});
