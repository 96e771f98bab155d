import assert from 'node:assert/strict';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  LOG_FILE_MODE,
  LogDestination,
  MAX_PENDING_BYTES,
  openLogFile,
  trustedSymlink,
  type WriteSync,
} from '../../src/shared/log-destination.js';

const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** A disk that can be filled and freed: while full every write fails with ENOSPC; `partial` bytes fit once. */
class Disk {
  written = '';
  full = false;
  partial = 0;
  calls = 0;
  readonly write: WriteSync = (_fd, data) => {
    this.calls += 1;
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    if (this.partial > 0) {
      const n = Math.min(this.partial, Buffer.byteLength(text));
      this.written += Buffer.from(text).subarray(0, n).toString('utf8');
      this.partial = 0;
      this.full = true;
      return n;
    }
    if (this.full) throw enospc();
    this.written += text;
    return Buffer.byteLength(text);
  };
}

const lineOf = (i: number, size = 100): string => `${`line ${i} `.padEnd(size - 1, 'x')}\n`;

describe('LogDestination under write failures', () => {
  test('a full disk: at most the bound is kept, the rest dropped and counted, reported once writing works again', () => {
    const disk = new Disk();
    const dropped: Array<[number, string]> = [];
    const dest = new LogDestination(99, null, { writeSync: disk.write, maxPending: 10_000 });
    dest.onDropped = (count, reason) => dropped.push([count, reason]);
    dest.write(lineOf(0));
    disk.full = true;
    for (let i = 1; i <= 1000; i += 1) assert.equal(dest.write(lineOf(i)), true, 'a failed write never throws');
    assert.ok(dest.pendingBytes <= 10_000, `pending ${dest.pendingBytes} bytes`);
    assert.equal(dest.pendingBytes, 100 * 100, 'the oldest lines are the ones kept');
    assert.deepEqual(dropped, []);

    disk.full = false;
    dest.write(lineOf(1001));
    const lines = disk.written
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(l.split(' ')[1]));
    assert.deepEqual(
      lines,
      [0, ...Array.from({ length: 100 }, (_, i) => i + 1), 1001],
      'kept lines in order, then the new one',
    );
    assert.deepEqual(dropped, [[900, 'ENOSPC']], 'one report with the count and why');
    assert.equal(dest.pendingBytes, 0);
    dest.write(lineOf(1002));
    assert.equal(dropped.length, 1, 'reported once');
  });

  test('recovers by itself: a timer retries pending lines when no new line comes', async () => {
    const disk = new Disk();
    const dropped: number[] = [];
    const dest = new LogDestination(99, null, { writeSync: disk.write, maxPending: 250 });
    dest.onDropped = (count) => dropped.push(count);
    disk.full = true;
    for (let i = 0; i < 5; i += 1) dest.write(lineOf(i));
    disk.full = false;
    const deadline = Date.now() + 2000;
    while (dest.pendingBytes > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(disk.written, lineOf(0) + lineOf(1));
    assert.deepEqual(dropped, [3]);
  });

  test('a partial write (the disk filled mid-line) is completed, not repeated, once there is room', () => {
    const disk = new Disk();
    const dest = new LogDestination(99, null, { writeSync: disk.write });
    disk.partial = 30;
    dest.write(lineOf(1));
    dest.write(lineOf(2));
    assert.equal(disk.written, lineOf(1).slice(0, 30));
    disk.full = false;
    dest.write(lineOf(3));
    assert.equal(disk.written, lineOf(1) + lineOf(2) + lineOf(3));
  });

  test('a backed-up pipe (EAGAIN, or nothing written) holds lines instead of blocking or throwing', () => {
    let accept = false;
    let out = '';
    const write: WriteSync = (_fd, data) => {
      if (!accept) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      out += typeof data === 'string' ? data : Buffer.from(data).toString();
      return Buffer.byteLength(data);
    };
    const dest = new LogDestination(99, null, { writeSync: write });
    dest.write('a\n');
    dest.write('b\n');
    accept = true;
    dest.write('c\n');
    assert.equal(out, 'a\nb\nc\n');
  });

  test('the default bound is a few MB at most', () => {
    assert.ok(MAX_PENDING_BYTES >= 256 * 1024 && MAX_PENDING_BYTES <= 4 * 1024 * 1024);
  });
});

describe('log files: mode, symlinks, reopen', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'prefork-logdest-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a file we create is 0640 (access logs carry tokens in query strings); an existing file keeps its mode', () => {
    const created = join(dir, 'new.log');
    const { fd, created: isNew } = openLogFile(created);
    closeSync(fd);
    assert.equal(isNew, true);
    assert.equal(statSync(created).mode & 0o777, LOG_FILE_MODE & ~process.umask());
    assert.equal(LOG_FILE_MODE & 0o007, 0, 'nothing for other users');
    const existing = join(dir, 'existing.log');
    writeFileSync(existing, '', { mode: 0o644 });
    const again = openLogFile(existing);
    closeSync(again.fd);
    assert.equal(again.created, false);
    assert.equal(statSync(existing).mode & 0o777, 0o644 & ~process.umask());
  });

  test('a symlink in a directory others may write is never followed: ELOOP, its target neither created nor written', () => {
    chmodSync(dir, 0o1777);
    const target = join(dir, 'root-only');
    writeFileSync(target, 'secret\n');
    const link = join(dir, 'planted.log');
    symlinkSync(target, link);
    assert.throws(() => openLogFile(link), { code: 'ELOOP' });
    const dangling = join(dir, 'dangling.log');
    symlinkSync(join(dir, 'not-there'), dangling);
    assert.throws(() => openLogFile(dangling), { code: 'ELOOP' });
    assert.equal(existsSync(join(dir, 'not-there')), false);
    assert.equal(readFileSync(target, 'utf8'), 'secret\n');
  });

  test('reopen: a symlink planted at the path after a rotation is refused and the old file stays in use', () => {
    const file = join(dir, 'rotating.log');
    const { fd, created } = openLogFile(file);
    const dest = new LogDestination(fd, file, { created });
    dest.write('one\n');
    rmSync(file);
    const target = join(dir, 'victim');
    writeFileSync(target, '');
    chmodSync(dir, 0o1777);
    symlinkSync(target, file);
    assert.throws(() => dest.reopen(), { code: 'ELOOP' });
    dest.write('two\n');
    assert.equal(readFileSync(target, 'utf8'), '');
    rmSync(file);
    dest.reopen();
    dest.write('three\n');
    assert.equal(readFileSync(file, 'utf8'), 'three\n');
  });

  test('a symlink that only root could have planted (root-owned, directory not writable by others) is followed', () => {
    const safe = mkdtempSync(join(dir, 'safe-'));
    chmodSync(safe, 0o755);
    const link = join(safe, 'app.log');
    symlinkSync(join(safe, 'real.log'), link);
    assert.equal(trustedSymlink(link), true);
    const { fd } = openLogFile(link);
    new LogDestination(fd, link).write('through\n');
    assert.equal(readFileSync(join(safe, 'real.log'), 'utf8'), 'through\n');
    chmodSync(safe, 0o775);
    assert.equal(trustedSymlink(link), false, 'group-writable directory');
    assert.throws(() => openLogFile(link), { code: 'ELOOP' });
  });

  test('a destination on stdout that carries the file it could not open switches to the file on reopen', () => {
    const file = join(dir, 'later', 'app.log');
    let toStdout = '';
    const dest = new LogDestination(1, file, {
      writeSync: (fd, data) => {
        const text = typeof data === 'string' ? data : Buffer.from(data).toString();
        if (fd === 1) toStdout += text;
        else writeFileSync(fd, text);
        return Buffer.byteLength(text);
      },
    });
    dest.write('before\n');
    assert.throws(() => dest.reopen(), { code: 'ENOENT' });
    mkdirSync(join(dir, 'later'));
    dest.reopen();
    dest.write('after\n');
    assert.equal(toStdout, 'before\n');
    assert.equal(readFileSync(file, 'utf8'), 'after\n');
  });
});
