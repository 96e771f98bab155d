import assert from 'node:assert/strict';
import { test } from 'node:test';
import { app, request, runPrefork, startPrefork } from '../helpers/prefork.js';

test('a module exporting {} with nothing pending exits 4 at once, with a hint about --factory', async (t) => {
  const started = Date.now();
  // The default --boot-timeout (30 s): the answer must not wait for it.
  const r = await runPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('exports-nothing.cjs')]);
  const ms = Date.now() - started;
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(
    r.stderr,
    /^prefork: app .*exports-nothing\.cjs exports an object with keys \[\], called no listen\(\) and has nothing pending that could call it: .*--factory/,
  );
  assert.ok(ms < 3000, `told after ${ms} ms, not at --boot-timeout`);
});

test('an app that listens 1.5 s after loading (a timer pending meanwhile) is still served', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('dropin-late.cjs')], {
    env: { LISTEN_AFTER_MS: '1500' },
  });
  const target = await p.ready();
  assert.equal((await request(target)).json<{ shape: string }>().shape, 'dropin-late');
});

test('an app that awaits a socket before it listens is not taken for idle', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('dropin-awaits-socket.cjs')]);
  const target = await p.ready();
  assert.equal((await request(target)).json<{ shape: string }>().shape, 'dropin-awaits-socket');
});
