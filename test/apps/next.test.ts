import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { checkApp, getRoute, groupTermDuringDelay, prepareApp, serveApp } from './helpers.js';

test('Next.js: next build, then `prefork … node_modules/next/dist/bin/next -- start`', async (t) => {
  const dir = prepareApp('next', [[process.execPath, 'node_modules/next/dist/bin/next', 'build']]);
  const served = await serveApp(t, dir, 'node_modules/next/dist/bin/next', {
    appArgs: ['start'],
    env: { NEXT_MANUAL_SIG_HANDLE: '1' },
  });
  await checkApp(t, served, [getRoute('/api/hello', '"hello":"world"'), getRoute('/', 'Hello, Next.js!')]);
});

async function groupTerm(t: TestContext, env: NodeJS.ProcessEnv): ReturnType<typeof groupTermDuringDelay> {
  const dir = prepareApp('next', [[process.execPath, 'node_modules/next/dist/bin/next', 'build']]);
  const s = await serveApp(t, dir, 'node_modules/next/dist/bin/next', {
    appArgs: ['start'],
    env,
    preforkArgs: ['--shutdown-delay', '2'],
  });
  return groupTermDuringDelay(s, getRoute('/api/hello', '"hello":"world"'));
}

test('Next.js with NEXT_MANUAL_SIG_HANDLE=1: a TERM to the whole process group keeps serving through --shutdown-delay', async (t) => {
  const { ok, failed } = await groupTerm(t, { NEXT_MANUAL_SIG_HANDLE: '1' });
  assert.equal(failed, 0, `${failed} of ${ok + failed} requests failed`);
  assert.ok(ok > 10);
});

test('Next.js without NEXT_MANUAL_SIG_HANDLE: its own TERM handler stops serving at once (why the docs ask for it)', async (t) => {
  const { ok, failed, firstFailure } = await groupTerm(t, {});
  t.diagnostic(`${ok} answered, ${failed} failed, the first: ${firstFailure}`);
  assert.ok(failed > 0, `${ok} answered, none failed`);
});
