import { test } from 'node:test';
import { checkApp, getRoute, prepareApp, serveApp } from './helpers.js';

const routes = [getRoute('/api/hello', '"hello":"world"'), getRoute('/', 'Hello Hono!')];

test('Hono with serve() from @hono/node-server (drop-in: its listen() is served on prefork sockets)', async (t) => {
  const dir = prepareApp('hono');
  await checkApp(t, await serveApp(t, dir, 'serve.mjs'), routes);
});

test('Hono as `export default app` (a { fetch } object)', async (t) => {
  const dir = prepareApp('hono');
  await checkApp(t, await serveApp(t, dir, 'app.mjs'), routes);
});
