import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

/** Leaves a socket file nobody listens on, as a SIGKILLed server does. */
function staleSocket(path: string): void {
  const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script]);
  assert.ok(lstatSync(path).isSocket());
}

const oneLine = (stderr: string): string => {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one error line, got:\n${stderr}`);
  return lines[0]!;
};

test('a stale socket (nobody listening) is removed, logged, and replaced', async (t) => {
  const sock = join(tempDir(t), 'stale.sock');
  staleSocket(sock);
  const p = startPrefork(t, ['-w', '1', '-b', `unix:${sock}`, app('pid.cjs')]);
  await p.ready();
  assert.equal((await p.waitForEvent('stale-socket-removed')).path, sock);
  assert.equal((await request({ socketPath: sock })).status, 200);
  assert.equal((await p.stop()).code, 0);
  assert.equal(existsSync(sock), false);
});

test('a socket another server listens on is refused with exit 3 and left serving', async (t) => {
  const sock = join(tempDir(t), 'busy.sock');
  const other = net.createServer((c) => c.on('error', () => {}).end('other\n'));
  await new Promise<void>((done) => other.listen(sock, done));
  t.after(() => other.close());
  const r = await runPrefork(t, ['-w', '1', '-b', `unix:${sock}`, app('pid.cjs')]);
  assert.equal(r.code, 3);
  assert.match(oneLine(r.stderr), new RegExp(`${sock}.*another server is listening`));
  const answer = await new Promise<string>((done, fail) => {
    const c = net.connect(sock);
    let text = '';
    c.on('data', (d) => (text += d))
      .on('end', () => done(text))
      .on('error', fail);
  });
  assert.equal(answer, 'other\n');
});

for (const [kind, make] of [
  ['a regular file', (path: string) => writeFileSync(path, 'precious data')],
  ['a directory', (path: string) => mkdirSync(path)],
  ['a symlink', (path: string) => symlinkSync('/etc/hostname', path)],
] as const) {
  test(`a path that is ${kind} is refused with exit 3 and untouched`, async (t) => {
    const path = join(tempDir(t), 'app.sock');
    make(path);
    const before = lstatSync(path);
    const r = await runPrefork(t, ['-w', '1', '-b', `unix:${path}`, app('pid.cjs')]);
    assert.equal(r.code, 3);
    assert.match(oneLine(r.stderr), new RegExp(`${path}.*${kind}.*refusing`));
    const after = lstatSync(path);
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
    if (kind === 'a regular file') assert.equal(readFileSync(path, 'utf8'), 'precious data');
  });
}

test('a path longer than 107 bytes is exit 2, never truncated', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, `${'x'.repeat(120 - dir.length)}.sock`);
  const r = await runPrefork(t, ['-w', '1', '-b', `unix:${path}`, app('pid.cjs')]);
  assert.equal(r.code, 2);
  assert.match(oneLine(r.stderr), /bytes; unix socket paths may have at most 107/);
  assert.equal(execFileSync('ls', ['-A', dir], { encoding: 'utf8' }), '');
});

test('a missing directory is named as such, exit 3', async (t) => {
  const path = join(tempDir(t), 'no', 'such', 'dir', 'app.sock');
  const r = await runPrefork(t, ['-w', '1', '-b', `unix:${path}`, app('pid.cjs')]);
  assert.equal(r.code, 3);
  assert.match(oneLine(r.stderr), /directory .*no\/such\/dir does not exist/);
});

test('a failed second bind removes the socket file the first one created', async (t) => {
  const dir = tempDir(t);
  const blocker = net.createServer();
  await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
  t.after(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const r = await runPrefork(t, [
    '-w',
    '1',
    '-b',
    `unix:${join(dir, 'first.sock')}`,
    '-b',
    `127.0.0.1:${port}`,
    app('pid.cjs'),
  ]);
  assert.equal(r.code, 3);
  assert.match(oneLine(r.stderr), new RegExp(`127.0.0.1:${port}: address already in use`));
  assert.equal(existsSync(join(dir, 'first.sock')), false);
});

test('on stop a socket file someone replaced is left alone', async (t) => {
  const dir = tempDir(t);
  const sock = join(dir, 'app.sock');
  const p = startPrefork(t, ['-w', '1', '-b', `unix:${sock}`, app('pid.cjs')]);
  await p.ready();
  execFileSync('mv', [sock, join(dir, 'moved.sock')]);
  writeFileSync(sock, 'not ours');
  assert.equal((await p.stop()).code, 0);
  assert.equal(readFileSync(sock, 'utf8'), 'not ours');
  assert.ok(p.logs.some((l) => l.event === 'socket-not-ours'));
});

const nodeMajor = Number(process.versions.node.split('.')[0]);

test('unix:@NAME serves an abstract socket that standard clients reach, or says why not', async (t) => {
  const name = `prefork-test-${process.pid}-${Date.now()}`;
  if (nodeMajor < 22) {
    const r = await runPrefork(t, ['-w', '1', '-b', `unix:@${name}`, app('pid.cjs')]);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /pads abstract socket names/);
    return;
  }
  const p = startPrefork(t, ['-w', '2', '-b', `unix:@${name}`, app('pid.cjs')]);
  await p.ready();
  const body = execFileSync('curl', ['-sS', '--abstract-unix-socket', name, 'http://x/'], { encoding: 'utf8' });
  assert.equal(typeof JSON.parse(body).pid, 'number');
  assert.equal((await p.stop()).code, 0);
});
