import { test } from 'node:test';
import { checkApp, getRoute, prepareApp, serveApp } from './helpers.js';

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
