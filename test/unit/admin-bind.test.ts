import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatBind } from '../../src/config/bind.js';
import { reloadedConfig, resolveConfig } from '../../src/config/config.js';
import type { Config } from '../../src/config/options.js';
import { PreforkError } from '../../src/shared/exit-codes.js';

const resolve = (argv: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, cwd = '/srv/app'): Promise<Config> =>
  resolveConfig({ argv: { app: 'server.js', ...argv }, env, cwd, stdoutIsTTY: false });

const both = (c: Config): [string | null, string | null] => [
  c.metricsBind === null ? null : formatBind(c.metricsBind),
  c.adminBind === null ? null : formatBind(c.adminBind),
];

test('--admin-bind, env PREFORK_ADMIN_BIND and "adminBind" in a config file set the metrics bind; the old name still works', async () => {
  assert.deepEqual(both(await resolve({ adminBind: '127.0.0.1:9100' })), ['127.0.0.1:9100', '127.0.0.1:9100']);
  assert.deepEqual(both(await resolve({}, { PREFORK_ADMIN_BIND: 'unix:/run/a.sock' })), [
    'unix:/run/a.sock',
    'unix:/run/a.sock',
  ]);
  assert.deepEqual(both(await resolve({ metricsBind: ':9100' })), [':9100', ':9100']);
  assert.deepEqual(both(await resolve({})), [null, null]);
  const dir = mkdtempSync(join(tmpdir(), 'prefork-admin-'));
  try {
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ adminBind: '127.0.0.1:9300' }));
    assert.deepEqual(both(await resolve({ config: 'c.json' }, {}, dir)), ['127.0.0.1:9300', '127.0.0.1:9300']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the higher source wins across the two names (CLI > env); the same source giving both must agree', async () => {
  const cliOverEnv = await resolve({ adminBind: '127.0.0.1:9200' }, { PREFORK_METRICS_BIND: '127.0.0.1:9100' });
  assert.deepEqual(both(cliOverEnv), ['127.0.0.1:9200', '127.0.0.1:9200']);
  const oldNameOnCli = await resolve({ metricsBind: '127.0.0.1:9100' }, { PREFORK_ADMIN_BIND: '127.0.0.1:9200' });
  assert.deepEqual(both(oldNameOnCli), ['127.0.0.1:9100', '127.0.0.1:9100']);
  assert.deepEqual(both(await resolve({ metricsBind: ':9100', adminBind: ':9100' })), [':9100', ':9100']);
  await assert.rejects(resolve({ metricsBind: ':9100', adminBind: ':9200' }), (err: unknown) => {
    assert.ok(err instanceof PreforkError);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, '--admin-bind :9200 and --metrics-bind :9100 name the same listener: give one of them');
    return true;
  });
});

test('a reload keeps the admin bind under both names (restart-only) and lists it once as ignored', async () => {
  const current = await resolve({ adminBind: '127.0.0.1:9100' });
  const next = await resolve({ adminBind: '127.0.0.1:9200' });
  const { config, ignored } = reloadedConfig(current, next);
  assert.deepEqual(ignored, ['metricsBind']);
  assert.deepEqual(both(config), ['127.0.0.1:9100', '127.0.0.1:9100']);
  const none = reloadedConfig(await resolve({}), await resolve({ adminBind: ':9300' })).config;
  assert.deepEqual(both(none), [null, null]);
});
