import { test } from 'node:test';
import { checkApp, getRoute, prepareApp, serveApp } from './helpers.js';

test('SvelteKit with adapter-node: vite build, then build/index.js (drop-in)', async (t) => {
  const dir = prepareApp('sveltekit', [[process.execPath, 'node_modules/vite/bin/vite.js', 'build']]);
  const routes = [getRoute('/api/hello', '"hello":"world"'), getRoute('/', 'Welcome to SvelteKit')];
  await checkApp(t, await serveApp(t, dir, 'build/index.js'), routes);
});

test('SvelteKit with adapter-node: build/handler.js:handler (the middleware export, served as a request listener)', async (t) => {
  const dir = prepareApp('sveltekit', [[process.execPath, 'node_modules/vite/bin/vite.js', 'build']]);
  const routes = [getRoute('/api/hello', '"hello":"world"'), getRoute('/', 'Welcome to SvelteKit')];
  await checkApp(t, await serveApp(t, dir, 'build/handler.js:handler'), routes);
});
