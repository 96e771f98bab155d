import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { ROOT, app, logEntries, request, startPrefork, tempDir } from '../helpers/prefork.js';
import { eventually } from '../helpers/client.js';

/** What one process loaded, as test/fixtures/preload/master-footprint.mjs writes it. */
interface Footprint {
  packages: string[];
  builtins: string[];
  newSpaceBytes: number;
  atHello: string[] | null;
  atReady: string[] | null;
  stdoutAtReady: boolean | null;
}

/**
 * Serves APP with the footprint preload, asks it once (`path`), stops it, and returns what the
 * master and each worker loaded.
 */
async function footprints(
  t: TestContext,
  args: string[],
  path = '/',
): Promise<{ master: Footprint; workers: Footprint[] }> {
  const dir = tempDir(t);
  const out = join(dir, 'footprint.json');
  const preload = join(ROOT, 'test/fixtures/preload/master-footprint.mjs');
  const p = startPrefork(t, ['-b', '127.0.0.1:0', ...args], {
    env: { NODE_OPTIONS: `--import=${preload}`, FOOTPRINT_OUT: out },
  });
  assert.equal((await request(await p.ready(), { path })).status, 200);
  assert.equal((await p.stop()).code, 0);
  const read = (file: string): Footprint => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Footprint;
  const workers = readdirSync(dir).filter((f) => f.startsWith('footprint.json.worker-'));
  return { master: read('footprint.json'), workers: workers.map(read) };
}

/**
 * What the master keeps resident (docs/performance.md, "Master memory"): it logs without pino
 * (src/shared/lean-log.ts) and its young generation stays at V8's initial 2 MiB
 * (src/cli/lean-master.ts). Observed from inside the real master by a preload that only the
 * master runs: the figures are per-process, and the bench measures the RSS they add up to.
 */
test('the master loads no pino and keeps its young generation at its initial size', async (t) => {
  const out = join(tempDir(t), 'footprint.json');
  const preload = join(ROOT, 'test/fixtures/preload/master-footprint.mjs');
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', '--access-log', app('pid.cjs')], {
    env: { NODE_OPTIONS: `--import=${preload}`, FOOTPRINT_OUT: out },
  });
  const target = await p.ready();
  for (let i = 0; i < 20; i += 1) assert.equal((await request(target)).status, 200);
  assert.equal((await p.stop()).code, 0);
  const footprint = JSON.parse(readFileSync(out, 'utf8')) as { packages: string[]; newSpaceBytes: number };
  assert.deepEqual(
    footprint.packages.filter((f) => /node_modules\/(pino|sonic-boom|thread-stream)\//.test(f)),
    [],
    'the master loaded pino',
  );
  assert.ok(
    footprint.newSpaceBytes <= 2 * 1024 * 1024,
    `the master's new space grew to ${footprint.newSpaceBytes} bytes (its initial size is 2 MiB)`,
  );
});

test('a worker loads pino only for --access-log: its own lines and the app output do without', async (t) => {
  const loadedPino = async (args: string[]): Promise<boolean[]> => {
    const { workers } = await footprints(t, ['-w', '1', ...args, app('console.cjs')], '/log?m=hello');
    assert.equal(workers.length, 1, 'one worker wrote what it loaded');
    return workers.map((w) => w.packages.some((file) => file.includes('node_modules/pino/')));
  };
  assert.deepEqual(await loadedPino([]), [false], 'pino loaded without --access-log');
  assert.deepEqual(await loadedPino(['--access-log']), [true], 'the access log goes through pino');
});

test('a worker loads undici (fetch, Request) only for a fetch app', async (t) => {
  const loadedUndici = async (appFile: string): Promise<boolean> => {
    const { workers } = await footprints(t, ['-w', '1', app(appFile)]);
    return workers[0]!.builtins.includes('internal/deps/undici/undici');
  };
  // Undici brings http2 and tls: 10-15 ms of every worker's start on Node 22 and 24.
  assert.equal(await loadedUndici('pid.cjs'), false, 'a (req, res) app loaded undici');
  assert.equal(await loadedUndici('fetch.mjs'), true, 'a fetch app did without undici: is the check blind?');
});

test("a worker says 'hello' before it loads its own modules: the master's answer travels meanwhile", async (t) => {
  const { builtins, atHello } = (await footprints(t, ['-w', '1', app('pid.cjs')])).workers[0]!;
  // node:http comes with the worker's servers (src/worker/server-options.ts), deep in its modules.
  assert.ok(builtins.includes('http'), 'the worker never loaded node:http: the marker is stale');
  assert.ok(atHello !== null, 'no hello seen');
  assert.equal(atHello.includes('http'), false, 'the worker loaded its modules before asking for its sockets');
});

test("neither the master nor a worker loads node:fs's stream classes", async (t) => {
  const { master, workers } = await footprints(t, ['-w', '1', app('pid.cjs')]);
  // An ESM import of node:fs reads every export, and the ReadStream getter loads them (src/shared/builtins.ts).
  assert.equal(master.builtins.includes('internal/fs/streams'), false, 'the master loaded fs streams');
  assert.equal(workers[0]!.builtins.includes('internal/fs/streams'), false, 'a worker loaded fs streams');
});

test('a worker loads node:perf_hooks (its loop-lag histogram) only once it serves', async (t) => {
  const { builtins, atReady } = (await footprints(t, ['-w', '1', app('pid.cjs')])).workers[0]!;
  assert.ok(builtins.includes('perf_hooks'), 'no heartbeat histogram: the marker is stale');
  assert.ok(atReady !== null, "no 'ready' seen");
  assert.equal(atReady.includes('perf_hooks'), false, "perf_hooks loaded before the worker said 'ready'");
});

test('a worker makes process.stdout only when its app first uses it; what the app prints is still captured', async (t) => {
  const dir = tempDir(t);
  const preload = join(ROOT, 'test/fixtures/preload/master-footprint.mjs');
  const out = join(dir, 'footprint.json');
  const logFile = join(dir, 'prefork.log');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--log-file', logFile, app('console-late.cjs')], {
    env: { NODE_OPTIONS: `--import=${preload}`, FOOTPRINT_OUT: out },
    logFile,
  });
  assert.equal((await request(await p.ready(), { path: '/?m=x' })).status, 200);
  const printed = (msg: string): boolean => logEntries(logFile).some((l) => l.event === 'console' && l.msg === msg);
  await eventually(() => printed('late x') && printed('late error x'));
  assert.equal((await p.stop()).code, 0);
  const [worker] = readdirSync(dir).filter((f) => f.startsWith('footprint.json.worker-'));
  const { stdoutAtReady } = JSON.parse(readFileSync(join(dir, worker!), 'utf8')) as { stdoutAtReady: boolean | null };
  // Node makes the stream on first use: 1-2.5 ms of the worker's start (src/worker/app-output.ts).
  assert.equal(stdoutAtReady, false, "process.stdout was made before the worker said 'ready'");
});
