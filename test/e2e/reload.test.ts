import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { type Prefork, distinctPids, eventually, request, sleep, startPrefork, tempDir } from '../helpers/prefork.js';

// --reload (development): watch the app's directory, restart the workers on change.

const appSource = (version: string): string =>
  `module.exports = (req, res) => res.end(JSON.stringify({ pid: process.pid, version: ${JSON.stringify(version)} }));\n`;

function appDir(t: TestContext): string {
  const dir = tempDir(t, 'prefork-reload-');
  writeFileSync(join(dir, 'app.cjs'), appSource('v1'));
  mkdirSync(join(dir, 'node_modules'));
  return dir;
}

const version = async (p: Prefork): Promise<string> =>
  (await request(p.targets()[0]!)).json<{ version: string }>().version;
const changes = (p: Prefork): number => p.logs.filter((l) => l.event === 'reload-change').length;

test('--reload: a change to the app restarts the workers (rolling, debounced: a burst of writes is one restart) and they serve the new code', async (t) => {
  const dir = appDir(t);
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--reload', join(dir, 'app.cjs')]);
  const target = await p.ready();
  const watching = p.logs.find((l) => l.event === 'reload-watch');
  assert.match(String(watching?.msg), /development feature, not for production/);
  assert.equal(watching?.dir, dir);
  assert.equal(await version(p), 'v1');
  const before = p.readyWorkers();
  for (const v of ['v2-draft', 'v2-draft2', 'v2']) {
    writeFileSync(join(dir, 'app.cjs'), appSource(v));
    await sleep(30);
  }
  await p.waitForEvent('reload-done');
  assert.equal(changes(p), 1, 'one restart for the burst');
  assert.deepEqual(p.logs.find((l) => l.event === 'reload-change')?.files, ['app.cjs']);
  const pids = await distinctPids(target, 2);
  assert.ok(
    [...pids].every((pid) => !before.includes(pid)),
    'new workers',
  );
  for (let i = 0; i < 10; i += 1) assert.equal(await version(p), 'v2');
});

test("--reload ignores node_modules, hidden files and prefork's own log file, and watches directories created later", async (t) => {
  const dir = appDir(t);
  const log = join(dir, 'prefork.log');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--reload', '--log-file', log, join(dir, 'app.cjs')], {
    logFile: log,
  });
  await p.ready();
  writeFileSync(join(dir, 'node_modules', 'dep.js'), 'module.exports = 1;\n');
  writeFileSync(join(dir, '.app.cjs.swp'), 'editor state');
  await request(p.targets()[0]!); // one more line in the log file
  await sleep(1000);
  assert.equal(changes(p), 0, 'nothing there restarts the workers');
  mkdirSync(join(dir, 'lib'));
  await sleep(100);
  writeFileSync(join(dir, 'lib', 'helper.js'), 'module.exports = 2;\n');
  await eventually(
    () => p.logs.some((l) => l.event === 'reload-change' && (l.files as string[]).includes(join('lib', 'helper.js'))),
    5000,
    'a restart for lib/helper.js',
  );
});

test('without --reload, changing the app restarts nothing', async (t) => {
  const dir = appDir(t);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', join(dir, 'app.cjs')]);
  await p.ready();
  writeFileSync(join(dir, 'app.cjs'), appSource('v2'));
  await sleep(1000);
  assert.equal(
    p.logs.filter((l) => l.event === 'reload-watch' || l.event === 'reload-change' || l.event === 'reload').length,
    0,
  );
  assert.equal(await version(p), 'v1');
});
