import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type LogLine, app, eventually, request, startPrefork, tempDir } from '../helpers/prefork.js';

function entries(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

test('the log directory deleted and recreated, then USR1: every access line and the master\'s lines land in the new file', async (t) => {
  const dir = join(tempDir(t), 'logs');
  mkdirSync(dir);
  const file = join(dir, 'app.log');
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--access-log', '--log-file', file, app('pid.cjs')], { logFile: file });
  const target = await p.ready();
  rmSync(dir, { recursive: true });
  mkdirSync(dir);
  p.signal('SIGUSR1');
  await eventually(() => entries(file).filter((l) => l.event === 'reopen-logs').length === 3, 5000, 'three reopen-logs lines in the new file');
  for (let i = 0; i < 10; i += 1) assert.equal((await request(target, { path: `/after?i=${i}`, headers: { connection: 'close' } })).status, 200);
  await eventually(() => entries(file).filter((l) => l.event === 'access').length === 10, 5000, '10 access lines');
  assert.equal((await p.stop()).code, 0);
  const lines = entries(file);
  assert.deepEqual(lines.filter((l) => l.event === 'access').map((l) => l.path).sort(), Array.from({ length: 10 }, (_, i) => `/after?i=${i}`).sort());
  assert.ok(lines.some((l) => l.role === 'master' && l.event === 'stopped'), 'the master writes there too');
});
