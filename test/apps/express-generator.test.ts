import { test } from 'node:test';
import { checkApp, getRoute, prepareApp, serveApp } from './helpers.js';

// The fixture is express-generator@4.16.1's `--no-view` output, committed as generated (only its
// package.json pins what its ~ranges resolve to, with a lock): running the generator at test time
// would add a network step and an unlocked install for a template that has not changed since 2019.
test('express-generator (--no-view): bin/www as generated, drop-in', async (t) => {
  const dir = prepareApp('express-generator');
  const routes = [getRoute('/users', 'respond with a resource'), getRoute('/', 'Welcome to Express')];
  await checkApp(t, await serveApp(t, dir, 'bin/www'), routes);
});
