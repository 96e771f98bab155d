import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../src/shared/log.js';
import { holderState, isMasterTitle, lockPidfile, parsePid } from '../../src/master/pidfile.js';
import { eventually, sleep } from '../helpers/prefork.js';

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
  for (const text of ['abc', '12 34', '0', '123\n456\n', '-1', 'root:x:0:0:root:/root:/bin/bash\n'])
    assert.equal(parsePid(text), 'not-a-pid', text);
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
  const child = spawn(
    process.execPath,
    ['-e', 'process.title = "prefork master [unit]"; setInterval(() => {}, 1000)'],
    { stdio: 'ignore' },
  );
  t.after(() => child.kill('SIGKILL'));
  const pid = child.pid!;
  await eventually(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('prefork master'), 5000, 'the title');
  assert.deepEqual(holderState(pid), { state: 'running' });
});

test('hot upgrade hand-over: the lock is never absent; the old holder stops refreshing it, the new one renames its pid in and takes the lock', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prefork-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'app.pid');
  const lockDir = `${path}.lock`;
  const log = createLogger({ logLevel: 'silent', logFormat: 'json', name: null }, { role: 'master' });
  // This process plays the old master; the new master is a pid that is not running.
  const oldMaster = await lockPidfile(path, path, log);
  oldMaster.publish();
  const newPid = spawnSync(process.execPath, ['-e', '']).pid!;
  const newMaster = await lockPidfile(path, path, log, newPid, { parent: process.pid });
  assert.equal(
    readFileSync(join(lockDir, 'pid'), 'utf8'),
    `${process.pid}\n`,
    "pending: the new master leaves the old one's lock alone",
  );

  await oldMaster.handOver();
  assert.equal(readFileSync(join(lockDir, 'pid'), 'utf8'), `${process.pid}\n`, 'handed over, not removed');
  const mtime = statSync(lockDir).mtimeMs;
  await sleep(1300);
  assert.equal(statSync(lockDir).mtimeMs, mtime, 'and no longer refreshed (proper-lockfile refreshes every second)');

  await newMaster.takeOver();
  assert.equal(readFileSync(path, 'utf8'), `${newPid}\n`);
  assert.equal(readFileSync(join(lockDir, 'pid'), 'utf8'), `${newPid}\n`);
  await oldMaster.release();
  assert.equal(readFileSync(path, 'utf8'), `${newPid}\n`, "the old master leaves the new one's pidfile alone");
  assert.ok(existsSync(lockDir));
  await newMaster.release();
  assert.equal(existsSync(path), false);
  assert.equal(existsSync(lockDir), false);
});
