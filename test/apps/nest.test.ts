import { test } from 'node:test';
import { checkApp, getRoute, prepareApp, serveApp } from './helpers.js';

test('NestJS (compiled by tsc, drop-in: await app.listen(port))', async (t) => {
  const dir = prepareApp('nest', [[process.execPath, 'node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']]);
  const routes = [getRoute('/health', '"status":"ok"'), getRoute('/', 'Hello World!')];
  await checkApp(t, await serveApp(t, dir, 'dist/main.js'), routes);
});
