import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type LogLine,
  type Prefork,
  type Target,
  app,
  eventually,
  request,
  sleep,
  startPrefork,
  tempDir,
} from '../helpers/prefork.js';

// Drop-in mode follows net.Server's contract: an app that closes its server and calls listen()
// again (json-server --watch does, whenever its data file changes) is served again by the same
// worker: no restart, no second boot, no warning.

interface State {
  pid: number;
  generation: number;
  callbacks: number;
  closeCallbacks: number;
  listening: boolean;
  address: unknown;
}

const warnings = (logs: readonly LogLine[]): LogLine[] => logs.filter((l) => Number(l.level) >= 40);
const workerStates = (logs: readonly LogLine[]): string[] =>
  logs.filter((l) => l.role === 'master' && l.event === 'worker').map((l) => String(l.state));

const closes = (p: Prefork): number => p.logs.filter((l) => l.event === 'listen-closed').length;

/**
 * GET /reload, then, once the app has closed its server, requests on every socket: they wait in
 * the kernel's queue of the master's socket until the app listens again (RELISTEN_AFTER_MS later).
 */
async function reloadAndAsk(p: Prefork, targets: readonly Target[], closed: number): Promise<State[]> {
  await request(targets[0]!, { path: '/reload' });
  await eventually(() => closes(p) === closed, 5000, 'the close');
  const replies = await Promise.all(targets.flatMap((x) => [request(x), request(x)]));
  return replies.map((r) => {
    assert.equal(r.status, 200);
    return r.json<State>();
  });
}

for (const shape of ['the same server', 'a new server (json-server)']) {
  test(`close() then listen() on ${shape}, three times: the same worker serves again on every socket, callbacks run, no restart, no warning`, async (t) => {
    const sock = join(tempDir(t), 'app.sock');
    const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '-b', `unix:${sock}`, app('dropin-relisten.cjs')], {
      env: { NEW_SERVER: shape === 'the same server' ? '0' : '1', RELISTEN_AFTER_MS: '200' },
    });
    const target = await p.ready();
    const targets = [target, { socketPath: sock }];
    const first = (await request(target)).json<State>();
    assert.equal(first.generation, 1);
    for (let generation = 2; generation <= 4; generation += 1) {
      const states = await reloadAndAsk(p, targets, generation - 1);
      for (const state of states) {
        assert.equal(state.pid, first.pid, 'the same worker');
        assert.equal(state.generation, generation);
        assert.equal(state.callbacks, generation, "every listen()'s callback ran");
        assert.equal(state.closeCallbacks, generation - 1, "every close()'s callback ran, without an error");
        assert.equal(state.listening, true);
        assert.deepEqual(state.address, { address: '127.0.0.1', family: 'IPv4', port: target.port });
      }
    }
    assert.deepEqual(workerStates(p.logs), ['booting', 'ready'], 'one boot, never replaced');
    assert.equal(p.logs.filter((l) => l.event === 'listen-again').length, 3);
    assert.deepEqual(warnings(p.logs), []);
    p.signal('SIGTERM');
    assert.equal((await p.exited).code, 0);
  });
}

test("the app's close() callback waits for a request in flight on another socket (prefork's unix bind), as Node's does", async (t) => {
  const sock = join(tempDir(t), 'app.sock');
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '-b', `unix:${sock}`, app('dropin-relisten.cjs')]);
  const target = await p.ready();
  const slow = request({ socketPath: sock }, { path: '/slow' });
  await sleep(100);
  await request(target, { path: '/reload' });
  assert.equal((await slow).json<State>().generation, 1);
  const relistened = await p.waitForLog((l) => l.event === 'console' && String(l.msg).startsWith('listening #2'));
  const sent = p.logs.find((l) => l.event === 'console' && l.msg === 'slow response sent');
  assert.ok(sent !== undefined && p.logs.indexOf(sent) < p.logs.indexOf(relistened), 'closed only after the response');
  assert.equal((await request(target)).json<State>().closeCallbacks, 1);
});

test("two workers: one app's close() and listen() leave the other serving; both keep their pids", async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('dropin-relisten.cjs')], { env: { NEW_SERVER: '1' } });
  const target = await p.ready();
  const pids = new Set<number>();
  for (let i = 1; i <= 6; i += 1) {
    pids.add((await request(target, { path: '/reload' })).json<State>().pid);
    await eventually(() => closes(p) === i, 5000, 'the close');
    for (let j = 0; j < 5; j += 1) {
      const reply = await request(target);
      assert.equal(reply.status, 200);
      pids.add(reply.json<State>().pid);
    }
  }
  assert.ok(pids.size <= 2, 'no new worker');
  assert.deepEqual(workerStates(p.logs).sort(), ['booting', 'booting', 'ready', 'ready']);
  assert.deepEqual(warnings(p.logs), []);
});

test("a stop: the drain closes the app's server and a listen() the app makes on 'close' is not served again; the worker exits 0", async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('dropin-relisten.cjs')], {
    env: { LISTEN_ON_CLOSE: '1' },
  });
  const target = await p.ready();
  assert.equal((await request(target)).status, 200);
  p.signal('SIGTERM');
  assert.equal((await p.exited).code, 0);
  assert.ok(
    p.logs.some((l) => l.event === 'listen-ignored' && /this worker is draining/.test(String(l.msg))),
    'the listen() during the drain was a no-op',
  );
  assert.equal(p.logs.filter((l) => l.event === 'listen-again').length, 0);
  assert.ok(p.logs.some((l) => l.event === 'worker' && l.state === 'exited' && /code 0/.test(String(l.reason))));
  assert.deepEqual(warnings(p.logs), []);
});

for (const when of ['in its close() callback', "right after close(), in the probe's listening callback"]) {
  test(`a port probe first (get-port's listen, address(), close()), the real server's listen() ${when}: the real server is served`, async (t) => {
    const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('dropin-probe.cjs')], {
      env: { PROBE_SYNC: when.startsWith('right') ? '1' : '0' },
    });
    const target = await p.ready();
    await p.waitForLog((l) => l.event === 'console' && String(l.msg).startsWith('serving on'));
    await eventually(async () => (await request(target)).status === 200, 5000, 'served');
    const reply = (await request(target)).json<{ probed: number; address: { port: number } }>();
    assert.equal(reply.probed, target.port, "the probe's address() was prefork's");
    assert.equal(reply.address.port, target.port);
    assert.deepEqual(workerStates(p.logs).sort(), ['booting', 'booting', 'ready', 'ready']);
    assert.deepEqual(warnings(p.logs), []);
  });
}

test("listen({ port, signal }): aborting the signal closes the app's server, as Node's listen() does; the app's next listen() is served by the same worker", async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('dropin-abort.cjs')]);
  const target = await p.ready();
  type Abort = { pid: number; generation: number; closes: number; listening: boolean };
  const first = (await request(target)).json<Abort>();
  assert.deepEqual([first.generation, first.closes], [1, 0]);
  await request(target, { path: '/abort' });
  await eventually(() => closes(p) === 1, 5000, "the app's server closed by the abort");
  await eventually(async () => (await request(target)).json<Abort>().generation === 2, 5000, 'served again');
  const after = (await request(target)).json<Abort>();
  assert.equal(after.pid, first.pid, 'the same worker');
  assert.equal(after.closes, 1, "the app saw its server's 'close'");
  assert.equal(after.listening, true);
  assert.deepEqual(workerStates(p.logs), ['booting', 'ready'], 'one boot, never replaced');
  assert.deepEqual(warnings(p.logs), []);
});
