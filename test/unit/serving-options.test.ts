import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { PreforkError } from '../../src/shared/exit-codes.js';
import type { OptionKey } from '../../src/config/options.js';
import { connectionsCheckingInterval } from '../../src/worker/server-options.js';

const resolve = (argv: Partial<Record<OptionKey, unknown>>, env: NodeJS.ProcessEnv = {}) =>
  resolveConfig({ argv: { app: 'server.js', ...argv }, env, cwd: process.cwd(), stdoutIsTTY: false });

async function usage(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof PreforkError);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, message);
    return true;
  });
}

test('defaults: headers 10 s, request 300 s, head 16 KiB, no shutdown delay, no TLS', async () => {
  const c = await resolve({});
  assert.deepEqual(
    [c.headersTimeout, c.requestTimeout, c.maxHeaderSize, c.shutdownDelay, c.certfile, c.keyfile],
    [10, 300, 16384, 0, null, null],
  );
});

test('values come from the CLI and from PREFORK_* env like every option', async () => {
  const c = await resolve(
    { headersTimeout: '2.5', shutdownDelay: '5' },
    { PREFORK_REQUEST_TIMEOUT: '60', PREFORK_MAX_HEADER_SIZE: '8192' },
  );
  assert.deepEqual([c.headersTimeout, c.requestTimeout, c.maxHeaderSize, c.shutdownDelay], [2.5, 60, 8192, 5]);
});

test('the headers cannot take longer than the whole request, unless the request timeout is off', async () => {
  await usage(
    resolve({ headersTimeout: '20', requestTimeout: '10' }),
    'invalid --headers-timeout 20: expected at most --request-timeout 10 (the headers are part of the request), or --request-timeout 0 (off)',
  );
  assert.equal((await resolve({ headersTimeout: '20', requestTimeout: '0' })).headersTimeout, 20);
  assert.equal((await resolve({ headersTimeout: '0', requestTimeout: '10' })).headersTimeout, 0);
  assert.equal((await resolve({ headersTimeout: '10', requestTimeout: '10' })).requestTimeout, 10);
});

test('--certfile and --keyfile come as a pair', async () => {
  await usage(
    resolve({ certfile: 'c.pem' }),
    '--certfile c.pem is set but --keyfile is not: HTTPS needs both a certificate and its private key',
  );
  await usage(
    resolve({}, { PREFORK_KEYFILE: 'k.pem' }),
    'env PREFORK_KEYFILE k.pem is set but --certfile is not: HTTPS needs both a certificate and its private key',
  );
  const c = await resolve({ certfile: 'c.pem', keyfile: 'k.pem' });
  assert.deepEqual([c.certfile, c.keyfile], ['c.pem', 'k.pem']);
});

test('bad values exit 2', async () => {
  await assert.rejects(
    resolve({ maxHeaderSize: '512' }),
    /invalid --max-header-size "512": expected a whole number from 1024 to 2147483647/,
  );
  await assert.rejects(resolve({ shutdownDelay: '-1' }), /invalid --shutdown-delay "-1"/);
  await assert.rejects(resolve({ headersTimeout: 'soon' }), /invalid --headers-timeout "soon"/);
});

test('Node sweeps connections often enough for the limits to hold (its default sweep is every 30 s)', () => {
  assert.equal(connectionsCheckingInterval(10_000, 300_000), 1000);
  assert.equal(connectionsCheckingInterval(1000, 300_000), 500);
  assert.equal(connectionsCheckingInterval(0, 1000), 500);
  assert.equal(connectionsCheckingInterval(1, 0), 10);
  assert.equal(connectionsCheckingInterval(0, 0), 30_000);
});
