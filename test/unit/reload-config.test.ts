import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reloadedConfig, resolveConfig } from '../../src/config/config.js';

const resolve = (argv: Record<string, unknown>) =>
  resolveConfig({ argv: { app: 'server.js', ...argv }, env: {}, cwd: '/srv/app', stdoutIsTTY: false });

test('a reload keeps exactly the options the table marks restart-only, and applies the rest', async () => {
  const current = await resolve({ workers: '2', control: '/run/a.sock', metricsBind: '127.0.0.1:9100', timeout: '30' });
  const next = await resolve({ workers: '4', control: '/run/b.sock', metricsBind: '127.0.0.1:9200', timeout: '10' });
  const { config, ignored } = reloadedConfig(current, next);
  assert.deepEqual(ignored.sort(), ['control', 'metricsBind']);
  assert.equal(config.control, '/run/a.sock');
  assert.deepEqual(config.metricsBind, current.metricsBind);
  assert.equal(config.workers, 4);
  assert.equal(config.timeout, 10);
});
