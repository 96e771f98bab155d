import assert from 'node:assert/strict';
import { test } from 'node:test';
import { app, request, startPrefork } from '../helpers/prefork.js';

for (const [what, fixture] of [
  ['an async request listener', 'async-rejects.cjs'],
  ["a drop-in server's async request listener", 'dropin-async-rejects.mjs'],
] as const) {
  test(`${what} that rejects answers 500, logs the stack, and the worker lives on`, async (t) => {
    const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app(fixture)]);
    const target = await p.ready();
    const before = (await request(target)).json<{ pid: number }>().pid;
    const reply = await request(target, { path: '/boom' });
    assert.equal(reply.status, 500, reply.body);
    const line = await p.waitForEvent('app-error');
    const err = line.err as { message?: string; stack?: string };
    assert.equal(err.message, 'async boom');
    assert.match(err.stack ?? '', new RegExp(`async boom\\n\\s+at .*${fixture.replace('.', '\\.')}`));
    const after = await request(target);
    assert.equal(after.status, 200);
    assert.equal(after.json<{ pid: number }>().pid, before, 'the same worker serves the next request');
    assert.equal(p.logs.filter((l) => l.event === 'uncaught-exception').length, 0);
  });
}

test('an async listener that rejects after the headers went out has its response cut short', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('async-rejects.cjs')]);
  const target = await p.ready();
  const before = (await request(target)).json<{ pid: number }>().pid;
  await assert.rejects(request(target, { path: '/late' }));
  await p.waitForEvent('app-error', (l) => (l.err as { message?: string }).message === 'late boom');
  assert.equal((await request(target)).json<{ pid: number }>().pid, before);
});
