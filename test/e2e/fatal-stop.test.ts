import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, isAlive, startPrefork, tempDir } from '../helpers/prefork.js';

/** The fixture's `sleep 30`, if that pid is still it (not a recycled pid). */
function killSleep(pid: number): void {
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\0')) process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

test('a fatal boot failure TERMs the other booting workers: their apps end their child processes (exit 4)', async (t) => {
  const pidFile = join(tempDir(t), 'child.pid');
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('child-then-fail.mjs')], {
    env: { CHILD_PID_FILE: pidFile },
  });
  const exit = await p.exited;
  assert.equal(exit.code, 4, p.stderr);
  assert.ok(existsSync(pidFile), 'worker 0 started its child');
  const child = Number(readFileSync(pidFile, 'utf8'));
  t.after(() => killSleep(child));
  const deadline = Date.now() + 3000;
  while (isAlive(child) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(isAlive(child), false, `child ${child} outlived prefork`);
});
