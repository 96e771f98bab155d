import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, request, track } from '../helpers/prefork.js';

/**
 * README's quick start: `npm start` serves examples/hello.js, and `curl http://127.0.0.1:8000/`
 * answers {"hello":"world","pid":…,"worker":…}. The start script is run as package.json has it,
 * with a free port appended (8000 may be taken on a test machine).
 */
test("README's npm start: the start script serves examples/hello.js, and / answers as README shows", async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [command, ...args] = pkg.scripts.start.split(' ');
  assert.equal(command, 'node');
  const child = spawn(process.execPath, [...args, '-b', '127.0.0.1:0'], {
    cwd: ROOT,
    env: { ...process.env, PREFORK_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefork = track(t, child);
  const target = await prefork.ready();
  const reply = await request(target);
  assert.equal(reply.status, 200);
  const body = reply.json<{ hello: string; pid: number; worker: string }>();
  assert.deepEqual(Object.keys(body), ['hello', 'pid', 'worker']);
  assert.equal(body.hello, 'world');
  assert.match(body.worker, /^\d+$/);
  assert.equal((await prefork.stop()).code, 0);
});
