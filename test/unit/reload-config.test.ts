import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reloadedConfig, resolveConfig } from '../../src/config/config.js';
import { OPTIONS, optionKeys } from '../../src/config/options.js';

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

test('what a reload keeps is exactly what the option table marks restart-only, option by option', async () => {
  const current = await resolve({});
  for (const key of optionKeys) {
    const next = { ...current, [key]: `changed ${key}` } as unknown as typeof current;
    const { config, ignored } = reloadedConfig(current, next);
    if ('aliasOf' in OPTIONS[key]) {
      // An alias (--admin-bind) is its target's value: it follows the target, which is counted once.
      assert.deepEqual(ignored, [], `${key} is counted under its target`);
      assert.deepEqual(config[key], current[key], `${key} follows its target`);
    } else if (OPTIONS[key].onReload === 'restart') {
      assert.deepEqual(ignored, [key], `${key} is restart-only: logged as ignored`);
      assert.deepEqual(config[key], current[key], `${key} keeps its value`);
    } else {
      assert.deepEqual(ignored, [], `${key} applies`);
      assert.equal(config[key], `changed ${key}`, `${key} takes the new value`);
    }
  }
});
