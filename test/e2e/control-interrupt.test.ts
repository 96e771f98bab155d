import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, ROOT, app, sleep, startPrefork, tempDir, track } from '../helpers/prefork.js';

/**
 * A control client waiting on a master that does not answer (here: stopped with SIGSTOP) ends at
 * once on Ctrl-C (exit 130) or TERM (exit 143), with one line, whatever it was waiting for.
 */
test('status and reload against a frozen master: INT exits 130, TERM 143, promptly', async (t) => {
  const control = join(tempDir(t), 'ctl.sock');
  const master = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--control', control, app('pid.cjs')]);
  await master.ready();
  master.signal('SIGSTOP');
  // Registered after startPrefork's cleanup, so it runs first: a stopped master cannot drain.
  t.after(() => master.signal('SIGCONT'));
  for (const [command, signal, code] of [
    ['status', 'SIGINT', 130],
    ['reload', 'SIGTERM', 143],
    ['reload', 'SIGINT', 130],
  ] as const) {
    const child = spawn(process.execPath, [CLI, command, '--control', control], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const client = track(t, child);
    // Long enough to load, connect and send the request; the master, stopped, never answers.
    await sleep(800);
    assert.equal(child.exitCode, null, `${command} exited before the signal: ${client.stderr}`);
    const sent = Date.now();
    child.kill(signal);
    const exit = await Promise.race([client.exited, sleep(3000).then(() => null)]);
    assert.notEqual(exit, null, `${command} ignored ${signal} for 3 s`);
    const ms = Date.now() - sent;
    assert.equal(exit!.code, code, `${command} ${signal}: ${client.stderr}`);
    assert.ok(ms < 1000, `${command} took ${ms} ms to end after ${signal}`);
    const goesOn = command === 'status' ? '' : `; the master carries on with the ${command}`;
    assert.equal(client.stderr, `prefork: interrupted (${signal}) while waiting for the master${goesOn}\n`);
  }
  master.signal('SIGCONT');
  // The master was only paused: it answers again.
  assert.equal(master.child.exitCode, null);
});
