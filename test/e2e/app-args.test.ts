import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

// `prefork [options] APP [-- ARGS...]`: the app's process.argv is [node, APP, ...ARGS].

type Seen = { pid: number; script: string; args: string[] };

test("everything after -- is the app's argv, never prefork's options: process.argv is [node, APP, ...ARGS]", async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('argv.cjs'), '--', 'start', '--port', '3', '-w', 'x']);
  const target = await p.ready();
  const seen = (await request(target)).json<Seen>();
  assert.deepEqual(seen.args, ['start', '--port', '3', '-w', 'x']);
  assert.equal(seen.script, app('argv.cjs'));
  assert.equal(p.readyWorkers().length, 2, '-w x after -- is not --workers');
});

test('without --, the app sees no arguments (as `node APP`)', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('argv.cjs')]);
  const seen = (await request(await p.ready())).json<Seen>();
  assert.deepEqual(seen.args, []);
});

test('"args" in a config file: --check-config shows them, a reload (SIGHUP) applies a change', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'prefork.json');
  writeFileSync(config, JSON.stringify({ args: ['start', '-p', '1'] }));
  const checked = await runPrefork(t, ['--check-config', '-c', config, app('argv.cjs')]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.deepEqual((JSON.parse(checked.stdout) as { args: string[] }).args, ['start', '-p', '1']);
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '-c', config, app('argv.cjs')]);
  const target = await p.ready();
  const before = (await request(target)).json<Seen>();
  assert.deepEqual(before.args, ['start', '-p', '1']);
  writeFileSync(config, JSON.stringify({ args: ['dev'] }));
  p.signal('SIGHUP');
  await p.waitForLog((l) => l.event === 'worker' && l.state === 'exited' && l.workerPid === before.pid);
  assert.deepEqual((await request(target)).json<Seen>().args, ['dev']);
});

test('"args" that are not a list of strings are refused (exit 2, naming the value)', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'prefork.json');
  writeFileSync(config, JSON.stringify({ args: 'start' }));
  const r = await runPrefork(t, ['--check-config', '-c', config, app('argv.cjs')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid "args" in .*prefork\.json: "start": expected a list of strings/);
});
