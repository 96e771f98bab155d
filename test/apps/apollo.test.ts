import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkApp, getRoute, groupTermDuringDelay, prepareApp, serveApp } from './helpers.js';

const query = (path: string) =>
  getRoute(path, 'The Awakening', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ books { title author } }' }),
  });

test('Apollo Server: startStandaloneServer (drop-in), a query and the landing page', async (t) => {
  const dir = prepareApp('apollo');
  const landing = getRoute('/', 'apollo', { headers: { accept: 'text/html' } });
  await checkApp(t, await serveApp(t, dir, 'standalone.mjs'), [query('/'), landing]);
});

test('Apollo Server with Express (expressMiddleware, drop-in)', async (t) => {
  const dir = prepareApp('apollo');
  await checkApp(t, await serveApp(t, dir, 'express.mjs'), [query('/graphql'), getRoute('/health', '"status":"ok"')]);
});

test('Apollo Server: a TERM to the whole process group, with stopOnTerminationSignals: false, keeps serving through --shutdown-delay', async (t) => {
  const dir = prepareApp('apollo');
  const s = await serveApp(t, dir, 'standalone.mjs', { preforkArgs: ['--shutdown-delay', '2'] });
  const { ok, failed } = await groupTermDuringDelay(s, query('/'));
  assert.equal(failed, 0, `${failed} of ${ok + failed} requests failed`);
  assert.ok(ok > 10);
});

test('Apollo Server with its default stopOnTerminationSignals: its TERM handler stops GraphQL at once (why the docs ask to turn it off)', async (t) => {
  const dir = prepareApp('apollo');
  const s = await serveApp(t, dir, 'standalone-signals.mjs', { preforkArgs: ['--shutdown-delay', '2'] });
  const { ok, failed, firstFailure } = await groupTermDuringDelay(s, query('/'));
  t.diagnostic(`${ok} answered, ${failed} failed, the first: ${firstFailure}`);
  assert.ok(failed > 0, `${ok} answered, none failed`);
});
