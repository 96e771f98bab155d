import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { holderState, isMasterTitle, parsePid } from '../../src/pidfile.js';
import { eventually } from '../helpers/prefork.js';

test('our master titles, with or without a name, and nothing else', () => {
  assert.equal(isMasterTitle('prefork master'), true);
  assert.equal(isMasterTitle('prefork master [web]'), true);
  assert.equal(isMasterTitle('prefork master [a-very-long-name-cut-sh'), true, 'a title cut short by argv space');
  assert.equal(isMasterTitle('prefork ma'), true, 'a title cut to a short argv (node cli.js)');
  assert.equal(isMasterTitle('prefork masterful'), false);
  assert.equal(isMasterTitle('prefork '), false);
  assert.equal(isMasterTitle('prefork w'), false);
  assert.equal(isMasterTitle('prefork worker 0 [web]'), false);
  assert.equal(isMasterTitle('node'), false);
  assert.equal(isMasterTitle(''), false);
});

test('pid file contents', () => {
  assert.equal(parsePid('123\n'), 123);
  assert.equal(parsePid('123'), 123);
  assert.equal(parsePid(''), null);
  assert.equal(parsePid(' \n'), null);
  for (const text of ['abc', '12 34', '0', '123\n456\n', '-1', 'root:x:0:0:root:/root:/bin/bash\n']) assert.equal(parsePid(text), 'not-a-pid', text);
});

test('a holder is stale when gone, when it is us, or when it is not a prefork master', () => {
  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  assert.deepEqual(holderState(gone), { state: 'stale', why: 'is not running' });
  assert.equal(holderState(process.pid).state, 'stale');
  assert.match((holderState(process.pid) as { why: string }).why, /is this process/);
  const notPrefork = holderState(process.pid, 1);
  assert.equal(notPrefork.state, 'stale');
  assert.match((notPrefork as { why: string }).why, /is not a prefork master \(it is ".*node/);
});

test('a live process titled "prefork master [NAME]" is a running holder', async (t) => {
  const child = spawn(process.execPath, ['-e', 'process.title = "prefork master [unit]"; setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const pid = child.pid!;
  await eventually(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('prefork master'), 5000, 'the title');
  assert.deepEqual(holderState(pid), { state: 'running' });
});
