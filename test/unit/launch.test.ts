import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { resolveConfig } from '../../src/config/config.js';
import { PreforkError } from '../../src/shared/exit-codes.js';
import { Cleanup, Late } from '../../src/launch/cleanup.js';
import { runMaster } from '../../src/launch/launcher.js';

const dir = mkdtempSync(join(tmpdir(), 'prefork-launch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('Cleanup: closes in reverse order of opening, goes on past a failing closer, then throws its error', async () => {
  const cleanup = new Cleanup();
  const closed: string[] = [];
  cleanup.add(() => void closed.push('pidfile'));
  cleanup.add(() => {
    closed.push('sockets');
    throw new Error('EBADF');
  });
  cleanup.add(async () => void closed.push('watcher'));
  await assert.rejects(cleanup.run(), /EBADF/);
  assert.deepEqual(closed, ['watcher', 'sockets', 'pidfile']);
  await cleanup.run();
  assert.equal(closed.length, 3, 'each closer runs once');
});

test('Late: a value read before it is bound is a start-up bug, named', () => {
  const late = new Late<{ n: number }>('the master');
  assert.equal(late.maybe, null);
  assert.throws(() => late.get(), /prefork: the master used before it was constructed/);
  late.set({ n: 1 });
  assert.equal(late.get().n, 1);
});

test('runMaster: a step that fails after others opened files (metrics overlapping a bind) leaves nothing behind', async () => {
  const app = join(dir, 'app.cjs');
  writeFileSync(app, 'module.exports = (req, res) => res.end("ok");\n');
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as net.AddressInfo;
      s.close(() => resolve(p));
    });
  });
  const argv = {
    app,
    bind: [`unix:${join(dir, 'app.sock')}`, `127.0.0.1:${port}`],
    control: join(dir, 'ctl.sock'),
    pidfile: join(dir, 'prefork.pid'),
    metricsBind: `0.0.0.0:${port}`,
    workers: '1',
  };
  const config = await resolveConfig({ argv, env: {}, cwd: dir, stdoutIsTTY: false });
  const before = readdirSync(dir).sort();
  await assert.rejects(runMaster(config, pino({ level: 'silent' })), (err: unknown) => {
    assert.ok(err instanceof PreforkError && err.exitCode === 3, String(err));
    assert.match(err.message, new RegExp(`cannot bind 0.0.0.0:${port}: it overlaps 127.0.0.1:${port}`));
    return true;
  });
  assert.deepEqual(
    readdirSync(dir).sort(),
    before,
    'the socket files, the control socket and the pidfile are gone again',
  );
});

test('runMaster: a step after the sockets that fails (the app gone when --reload starts watching) closes them all', async () => {
  const sub = mkdtempSync(join(dir, 'late-'));
  const app = join(sub, 'app.cjs');
  writeFileSync(app, 'module.exports = (req, res) => res.end("ok");\n');
  const control = join(sub, 'ctl.sock');
  const argv = {
    app,
    bind: [`unix:${join(sub, 'app.sock')}`],
    control,
    pidfile: join(sub, 'prefork.pid'),
    reload: true,
  };
  const config = await resolveConfig({ argv, env: {}, cwd: sub, stdoutIsTTY: false });
  const before = readdirSync(sub).sort();
  // The app file "disappears" once the sockets exist: the race of a deploy removing it mid-start.
  const gone = join(sub, 'gone.cjs');
  const racy = Object.defineProperty({ ...config }, 'app', { get: () => (existsSync(control) ? gone : app) });
  await assert.rejects(runMaster(racy, pino({ level: 'silent' })), (err: unknown) => {
    assert.ok(err instanceof PreforkError && err.exitCode === 4, String(err));
    return true;
  });
  assert.deepEqual(
    readdirSync(sub).sort(),
    before,
    'the socket files, the control socket and the pidfile are gone again',
  );
});
