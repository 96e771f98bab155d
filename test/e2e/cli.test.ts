import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPTIONS, envName } from '../../src/config/options.js';
import { app, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

type Resolved = Record<string, unknown> & { bind: string[]; workers: number };

async function checkConfig(
  t: Parameters<typeof runPrefork>[0],
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<Resolved> {
  const r = await runPrefork(t, ['--check-config', ...args], {
    env: { PORT: undefined, WEB_CONCURRENCY: undefined, ...env },
    cwd,
  });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Resolved;
}

test('--check-config prints the resolved config; precedence is CLI > env > config file > defaults', async (t) => {
  const dir = tempDir(t);
  writeFileSync(
    join(dir, 'prefork.json'),
    JSON.stringify({ workers: 3, 'graceful-timeout': 7, keepAliveTimeout: 9, bind: ['unix:/tmp/from-file.sock'] }),
  );
  // --check-config checks what a start checks: the app file must exist.
  writeFileSync(join(dir, 'app.js'), 'module.exports = (req, res) => res.end();\n');
  const fromFile = await checkConfig(t, ['--config', join(dir, 'prefork.json'), 'app.js'], {}, dir);
  assert.equal(fromFile.workers, 3);
  assert.equal(fromFile.gracefulTimeout, 7);
  assert.equal(fromFile.keepAliveTimeout, 9);
  assert.deepEqual(fromFile.bind, ['unix:/tmp/from-file.sock']);
  assert.equal(fromFile.app, 'app.js');
  assert.equal(fromFile.socketMode, '0660');

  const envWins = await checkConfig(
    t,
    ['--config', join(dir, 'prefork.json'), 'app.js'],
    { PREFORK_WORKERS: '5' },
    dir,
  );
  assert.equal(envWins.workers, 5);
  const cliWins = await checkConfig(
    t,
    ['--config', join(dir, 'prefork.json'), '-w', '6', 'app.js'],
    { PREFORK_WORKERS: '5' },
    dir,
  );
  assert.equal(cliWins.workers, 6);
  assert.equal(cliWins.gracefulTimeout, 7);
});

test('a .mjs config file works, found through env PREFORK_CONFIG', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'prefork.config.mjs'), "export default { workers: 2, bind: ':9000', app: 'server.js' };\n");
  writeFileSync(join(dir, 'server.js'), 'module.exports = (req, res) => res.end();\n');
  const c = await checkConfig(t, [], { PREFORK_CONFIG: join(dir, 'prefork.config.mjs') }, dir);
  assert.deepEqual([c.workers, c.bind, c.app], [2, [':9000'], 'server.js']);
});

test('defaults: 127.0.0.1:8000; PORT gives 0.0.0.0:$PORT only when no bind is given; WEB_CONCURRENCY sets workers', async (t) => {
  const plain = await checkConfig(t, [app('pid.cjs')]);
  assert.deepEqual(plain.bind, ['127.0.0.1:8000']);
  assert.equal(plain.gracefulTimeout, 30);
  assert.equal(plain.backlog, 2048);
  assert.equal(plain.keepAliveTimeout, 5);
  const port = await checkConfig(t, [app('pid.cjs')], { PORT: '9123', WEB_CONCURRENCY: '3' });
  assert.deepEqual(port.bind, ['0.0.0.0:9123']);
  assert.equal(port.workers, 3);
  const explicit = await checkConfig(t, ['-b', 'unix:/tmp/x.sock', '-b', '[::1]:81', '-w', '2', app('pid.cjs')], {
    PORT: '9123',
    WEB_CONCURRENCY: '3',
  });
  assert.deepEqual(explicit.bind, ['unix:/tmp/x.sock', '[::1]:81']);
  assert.equal(explicit.workers, 2);
  const envBind = await checkConfig(t, [app('pid.cjs')], { PORT: '9123', PREFORK_BIND: 'unix:/tmp/y.sock' });
  assert.deepEqual(envBind.bind, ['unix:/tmp/y.sock']);
});

test('--help lists every option with its env name', async (t) => {
  const r = await runPrefork(t, ['--help']);
  assert.equal(r.code, 0);
  for (const d of Object.values(OPTIONS)) {
    if (d.cli === 'positional' || d.cli === 'rest') continue;
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
  // A master line about one worker names it (slot and pid) once, before the message; `(pid)` after
  // `master` is the master's own (a second `pid` key used to put the worker's there).
  const about = new RegExp(
    `INFO {2}master \\(${p.pid}\\) worker 0 \\(pid (?!${p.pid}\\))\\d+\\) booting {2}state=booting\n`,
  );
  assert.match(p.stdout, about);
  assert.equal(p.logs.filter((l) => l.event !== 'non-json').length, 0, 'no JSON lines in pretty mode');
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(p.stdout)?.[1]);
  assert.equal((await request({ host: '127.0.0.1', port })).status, 200);
});

test('missing APP is exit 2', async (t) => {
  const r = await runPrefork(t, ['-w', '1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr.trim(), /^prefork: missing APP: expected path\/to\/module\[:export\]/);
});
