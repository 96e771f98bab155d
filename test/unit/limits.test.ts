import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClientArgv } from '../../src/cli/control-client.js';
import { MAX_WORKERS, WORKER_COUNT, isWorkerCount } from '../../src/config/limits.js';
import { OPTIONS } from '../../src/config/options.js';

// One limit, every place that checks a worker count: a change to MAX_WORKERS moves them all.
const over = String(MAX_WORKERS + 1);

test('MAX_WORKERS bounds --workers, env WEB_CONCURRENCY and --reload-batch, and their messages say so', () => {
  for (const key of ['workers', 'reloadBatch'] as const) {
    assert.equal(OPTIONS[key].parse(String(MAX_WORKERS), `--${OPTIONS[key].name}`), MAX_WORKERS);
    assert.throws(() => OPTIONS[key].parse(over, `--${OPTIONS[key].name}`), {
      message: new RegExp(`expected ${WORKER_COUNT}$`),
    });
  }
  const ctx = { env: { WEB_CONCURRENCY: over }, cwd: '/' } as unknown as Parameters<typeof OPTIONS.workers.default>[0];
  assert.throws(() => OPTIONS.workers.default(ctx), {
    message: new RegExp(`env WEB_CONCURRENCY "${over}": expected ${WORKER_COUNT}`),
  });
});

test("MAX_WORKERS bounds `prefork scale N` (the client) and the control socket's check", async () => {
  const scale = (n: string) => parseClientArgv(['scale', n, '--control', '/run/ctl.sock'], {});
  assert.deepEqual((await scale(String(MAX_WORKERS))).request, { cmd: 'scale', workers: MAX_WORKERS });
  await assert.rejects(() => scale(over), { message: `invalid workers "${over}": expected ${WORKER_COUNT}` });
  assert.equal(isWorkerCount(MAX_WORKERS), true);
  for (const bad of [0, MAX_WORKERS + 1, 1.5, '2', null]) assert.equal(isWorkerCount(bad), false, String(bad));
});
