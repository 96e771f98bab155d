import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, app, distinctPids, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

// The programmatic API, used as a user would: a project whose node_modules/prefork is this package.

const run = promisify(execFile);

/** A project directory that depends on prefork (node_modules/prefork -> this checkout). */
function project(t: TestContext): string {
  const dir = tempDir(t, 'prefork-api-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules/prefork'));
  return dir;
}

test("import { serve } from 'prefork': starts a master and 2 workers in-process, ready gives the address, stop() drains and resolves 0", async (t) => {
  const dir = project(t);
  writeFileSync(
    join(dir, 'main.mjs'),
    `
import http from 'node:http';
import { serve } from 'prefork';
const get = (url) => new Promise((resolve, reject) => http.get(url, { agent: false }, (res) => {
  let body = '';
  res.on('data', (c) => (body += c)).on('end', () => resolve(JSON.parse(body)));
}).on('error', reject));
const server = serve({ app: ${JSON.stringify(app('pid.cjs'))}, workers: 2, bind: '127.0.0.1:0', gracefulTimeout: 5, logLevel: 'warn' });
const addresses = await server.ready;
const pids = new Set();
for (let i = 0; i < 200 && pids.size < 2; i += 1) pids.add((await get(addresses[0])).pid);
// A hot upgrade would start this program again: refused, and the master serves on.
process.kill(process.pid, 'SIGUSR2');
await new Promise((resolve) => setTimeout(resolve, 300));
const afterUsr2 = (await get(addresses[0])).pid;
const code = await server.stop();
const again = await server; // thenable: resolves with the same exit code
let badOptions = null;
try { await serve({ app: 'x.js', workers: 0 }); } catch (err) { badOptions = { name: err.name, exitCode: err.exitCode, message: err.message }; }
let unknown = null;
try { serve({ wrokers: 2 }); } catch (err) { unknown = err.message; }
console.log(JSON.stringify({ addresses, pids: [...pids], afterUsr2, master: process.pid, code, again, badOptions, unknown }));
`,
  );
  const { stdout } = await run(process.execPath, ['main.mjs'], {
    cwd: dir,
    timeout: 30_000,
    env: { ...process.env, PREFORK_LOG_FORMAT: 'json' },
  });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
    addresses: string[];
    pids: number[];
    afterUsr2: number;
    master: number;
    code: number;
    again: number;
    badOptions: { name: string; exitCode: number; message: string } | null;
    unknown: string | null;
  };
  assert.match(result.addresses[0]!, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(result.pids.length, 2, 'two workers answered');
  assert.ok(!result.pids.includes(result.master), 'workers are child processes of the calling program');
  assert.ok(result.pids.includes(result.afterUsr2), 'the same workers serve after USR2');
  assert.match(stdout, /"event":"upgrade-refused".*runs inside another program \(serve\(\)\)/);
  assert.equal(result.code, 0);
  assert.equal(result.again, 0);
  assert.deepEqual(result.badOptions, {
    name: 'PreforkError',
    exitCode: 2,
    message: 'invalid --workers 0: expected a whole number from 1 to 1024',
  });
  assert.equal(result.unknown, 'prefork serve(): unknown option "wrokers"');
});

test('a prefork.config.mjs written with defineConfig() is a config file the CLI reads', async (t) => {
  const dir = project(t);
  writeFileSync(
    join(dir, 'prefork.config.mjs'),
    `import { defineConfig } from 'prefork';\nexport default defineConfig({ app: ${JSON.stringify(app('pid.cjs'))}, workers: 2, bind: ['127.0.0.1:0'], gracefulTimeout: 7, threads: 1 });\n`,
  );
  const check = await runPrefork(t, ['--config', 'prefork.config.mjs', '--check-config'], { cwd: dir });
  assert.equal(check.code, 0, check.stderr);
  const config = JSON.parse(check.stdout) as Record<string, unknown>;
  assert.equal(config.workers, 2);
  assert.equal(config.gracefulTimeout, 7);
  assert.equal(config.threads, 1);
  const p = startPrefork(t, ['--config', 'prefork.config.mjs'], { cwd: dir });
  const target = await p.ready();
  assert.equal((await request(target)).status, 200);
  assert.equal((await distinctPids(target, 2)).size, 2);
});

test('the package ships its types: a TypeScript consumer type-checks against them, and wrong options are type errors', async (t) => {
  const dir = project(t);
  writeFileSync(
    join(dir, 'consumer.mts'),
    `
import { serve, defineConfig, type ServeOptions, type Served, ExitCode } from 'prefork';
import { runTask } from 'prefork/worker';

const options: ServeOptions = { app: 'server.js', workers: 4, bind: ['unix:/run/app.sock', ':8080'], gracefulTimeout: 20, threads: 2, taskTimeout: 5, reload: false };
const served: Served = serve(options);
const code: number = await served.stop('graceful');
const addresses: string[] = await served.ready;
export const config = defineConfig({ app: 'server.js', socketMode: '0660', logLevel: 'debug' });
export const lazy = defineConfig(async () => ({ workers: 2 }));
const n: number = await runTask<number>(new URL('./task.js', import.meta.url), 42);
console.log(code === ExitCode.ok, addresses, n);

// @ts-expect-error workers is a number
defineConfig({ workers: 'four' });
// @ts-expect-error no such option
defineConfig({ wrokers: 4 });
// @ts-expect-error a misspelt option beside valid ones
defineConfig({ app: 'server.js', gracefulTimout: 5 });
// @ts-expect-error log levels are a closed set
defineConfig({ logLevel: 'loud' });
// @ts-expect-error check-config is for the command line only
serve({ checkConfig: true });
`,
  );
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const args = [
    '--noEmit',
    '--strict',
    '--target',
    'es2022',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--typeRoots',
    join(ROOT, 'node_modules/@types'),
    '--types',
    'node',
    'consumer.mts',
  ];
  const result = await run(process.execPath, [tsc, ...args], { cwd: dir, timeout: 60_000 }).then(
    () => ({ ok: true, out: '' }),
    (err: { stdout: string }) => ({ ok: false, out: err.stdout }),
  );
  assert.ok(result.ok, result.out);
});
