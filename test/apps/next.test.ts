import { test } from 'node:test';
import { checkApp, getRoute, prepareApp, serveApp } from './helpers.js';

test('Next.js: next build, then `prefork … node_modules/next/dist/bin/next -- start`', async (t) => {
  const dir = prepareApp('next', [[process.execPath, 'node_modules/next/dist/bin/next', 'build']]);
  const served = await serveApp(t, dir, 'node_modules/next/dist/bin/next', {
    appArgs: ['start'],
    env: { NEXT_MANUAL_SIG_HANDLE: '1' },
  });
  await checkApp(t, served, [getRoute('/api/hello', '"hello":"world"'), getRoute('/', 'Hello, Next.js!')]);
});
