import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { checkApp, getRoute, prepareApp, serveApp } from './helpers.js';

test('Next.js: next build, then `prefork … node_modules/next/dist/bin/next -- start`', async (t) => {
  const dir = prepareApp('next', [[process.execPath, 'node_modules/next/dist/bin/next', 'build']]);
  const served = await serveApp(t, dir, 'node_modules/next/dist/bin/next', {
    appArgs: ['start'],
    env: { NEXT_MANUAL_SIG_HANDLE: '1' },
  });
  await checkApp(t, served, [getRoute('/api/hello', '"hello":"world"'), getRoute('/', 'Hello, Next.js!')]);
});

/**
 * systemd (KillMode=control-group), a terminal's Ctrl-C and `kill -TERM -PGID` signal every
 * process of the group: each worker gets the TERM too, and so does Next's own handler unless
 * NEXT_MANUAL_SIG_HANDLE=1. Requests sent during --shutdown-delay must all be answered.
 */
async function groupTermDuringDelay(t: TestContext, env: NodeJS.ProcessEnv): Promise<{ ok: number; failed: number }> {
  const dir = prepareApp('next', [[process.execPath, 'node_modules/next/dist/bin/next', 'build']]);
  const s = await serveApp(t, dir, 'node_modules/next/dist/bin/next', {
    appArgs: ['start'],
    env,
    preforkArgs: ['--shutdown-delay', '2'],
  });
  const route = getRoute('/api/hello', '"hello":"world"');
  process.kill(-s.p.pid, 'SIGTERM');
  let ok = 0;
  let failed = 0;
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    await route.check(ok % 2 === 0 ? s.tcp : s.unix).then(
      () => (ok += 1),
      () => (failed += 1),
    );
  }
  assert.deepEqual(await s.p.exited, { code: 0, signal: null });
  return { ok, failed };
}

test('Next.js with NEXT_MANUAL_SIG_HANDLE=1: a TERM to the whole process group keeps serving through --shutdown-delay', async (t) => {
  const { ok, failed } = await groupTermDuringDelay(t, { NEXT_MANUAL_SIG_HANDLE: '1' });
  assert.equal(failed, 0, `${failed} of ${ok + failed} requests failed`);
  assert.ok(ok > 10);
});

test('Next.js without NEXT_MANUAL_SIG_HANDLE: its own TERM handler stops serving at once (why the docs ask for it)', async (t) => {
  const { ok, failed } = await groupTermDuringDelay(t, {});
  t.diagnostic(`${ok} answered, ${failed} failed`);
  assert.ok(failed > 0, `${ok} answered, none failed`);
});
