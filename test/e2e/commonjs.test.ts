import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, app, runPrefork, tempDir } from '../helpers/prefork.js';

// Node 20.16 (the minimum) cannot require() an ES module; newer ones can unless told not to: this
// makes them behave as 20.16 does, so the CommonJS entry is what is tested.
const AS_ON_20_16 = process.allowedNodeEnvironmentFlags.has('--experimental-require-module')
  ? { NODE_OPTIONS: '--no-experimental-require-module' }
  : {};

function project(t: TestContext): string {
  const dir = tempDir(t, 'prefork-cjs-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules/prefork'));
  return dir;
}

test("require('prefork').serve: ready gives the address, the app answers, stop() resolves 0, as on Node 20.16", async (t) => {
  const dir = project(t);
  writeFileSync(
    join(dir, 'main.cjs'),
    `const { serve } = require('prefork');
const server = serve({ app: ${JSON.stringify(app('pid.cjs'))}, workers: 1, bind: ['127.0.0.1:0'], logLevel: 'silent' });
server.ready.then(async (addresses) => {
  const status = (await fetch(addresses[0])).status;
  const code = await server.stop();
  console.log(JSON.stringify({ status, code, exitCode: await server }));
});
`,
  );
  const { stdout } = await promisify(execFile)(process.execPath, ['main.cjs'], {
    cwd: dir,
    env: { ...process.env, ...AS_ON_20_16 },
    timeout: 20_000,
  });
  assert.deepEqual(JSON.parse(stdout), { status: 200, code: 0, exitCode: 0 });
});

test("a .cjs config file with require('prefork').defineConfig passes --check-config, as on Node 20.16", async (t) => {
  const dir = project(t);
  writeFileSync(
    join(dir, 'prefork.config.cjs'),
    `const { defineConfig, serve } = require('prefork');\n` +
      `if (typeof serve !== 'function') throw new Error('no serve');\n` +
      `module.exports = defineConfig({ app: ${JSON.stringify(app('pid.cjs'))}, workers: 2, args: ['start'] });\n`,
  );
  const r = await runPrefork(t, ['--check-config', '-c', 'prefork.config.cjs'], { cwd: dir, env: AS_ON_20_16 });
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(r.stdout) as { workers: number; args: string[] };
  assert.equal(config.workers, 2);
  assert.deepEqual(config.args, ['start']);
});
