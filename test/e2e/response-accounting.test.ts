import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, request, startPrefork, tempDir } from '../helpers/prefork.js';

/**
 * A request costs prefork a 'close' listener on its response only when something reads what
 * responses end as: `prefork status` (--control), /metrics, the access log, --limit-concurrency.
 */
for (const [name, extra] of [
  ['nothing reads them', [] as string[]],
  ['--control', ['--control', 'CONTROL']],
  ['--access-log', ['--access-log']],
  ['--limit-concurrency', ['--limit-concurrency', '100']],
  ['--metrics-bind', ['--metrics-bind', '127.0.0.1:0']],
] as const) {
  test(`responses followed to their end: ${name}`, async (t) => {
    const control = join(tempDir(t), 'ctl.sock');
    const args = extra.map((a) => (a === 'CONTROL' ? control : a));
    const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', ...args, app('close-listeners.cjs')]);
    const target = await p.ready();
    const reply = await request(target);
    assert.equal(reply.status, 200);
    assert.equal(reply.json<{ close: number }>().close, name === 'nothing reads them' ? 0 : 1);
  });
}
