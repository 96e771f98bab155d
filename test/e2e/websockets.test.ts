import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { type Prefork, type Target, app, sleep, startPrefork } from '../helpers/prefork.js';

// WebSocket upgrades with the ws package, through an exported http.Server and through drop-in
// mode, and what a stop does to them.

interface Echo {
  pid: number;
  echo: string;
}

/** Opens a WebSocket; resolves once it is open. */
function connect(target: Target): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${target.host}:${target.port}/`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function roundTrip(ws: WebSocket, text: string): Promise<Echo> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(JSON.parse(data.toString()) as Echo));
    ws.once('error', reject);
    ws.send(text);
  });
}

const closed = (ws: WebSocket): Promise<{ code: number; at: number }> =>
  new Promise((resolve) => ws.once('close', (code) => resolve({ code, at: Date.now() })));

async function echoesFromBothWorkers(t: TestContext, p: Prefork): Promise<void> {
  const target = await p.ready();
  const pids = new Set<number>();
  for (let i = 0; i < 200 && pids.size < 2; i += 1) {
    const ws = await connect(target);
    t.after(() => ws.terminate());
    const reply = await roundTrip(ws, `hello ${i}`);
    assert.equal(reply.echo, `hello ${i}`);
    pids.add(reply.pid);
    ws.close();
  }
  assert.equal(pids.size, 2, 'both workers served WebSockets');
}

test('ws through an exported http.Server: upgrades reach the app in both workers', async (t) => {
  await echoesFromBothWorkers(t, startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('ws-server.cjs')]));
});

test('ws through drop-in mode (server.listen(8080)): upgrades reach the app in both workers', async (t) => {
  const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', app('ws-dropin.mjs')]);
  await echoesFromBothWorkers(t, p);
  assert.ok(p.logs.some((l) => l.event === 'listen-redirected'));
});

for (const [how, spec] of [
  ['an http.Server export', 'ws-server.cjs'],
  ['drop-in mode', 'ws-dropin.mjs'],
] as const) {
  test(`stop with a WebSocket open (${how}): it keeps working through the drain, is closed at --graceful-timeout, then the worker exits`, async (t) => {
    const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '2', app(spec)]);
    const target = await p.ready();
    const [worker] = p.readyWorkers();
    const ws = await connect(target);
    t.after(() => ws.terminate());
    const end = closed(ws);
    assert.equal((await roundTrip(ws, 'before')).echo, 'before');
    const stoppedAt = Date.now();
    p.signal('SIGTERM');
    await p.waitForLog((l) => l.event === 'draining' && l.pid === worker);
    await sleep(1000);
    // A second into the drain: the upgraded connection is still the app's.
    assert.equal((await roundTrip(ws, 'during the drain')).echo, 'during the drain');
    const { at } = await end;
    assert.ok(at - stoppedAt >= 1500, `closed ${at - stoppedAt} ms after TERM: only at the graceful timeout`);
    const closing = await p.waitForLog((l) => l.event === 'drain-timeout' && l.upgraded === 1);
    assert.match(String(closing.msg), /closing 1 upgraded connection\(s\)/);
    await p.waitForLog((l) => l.event === 'drained' && l.pid === worker);
    assert.equal((await p.exited).code, 0);
    // The worker ended its drain itself, before the master's backstop.
    assert.equal(p.logs.filter((l) => l.event === 'graceful-timeout').length, 0);
  });
}

test("the app's shutdown() runs while WebSockets are open, so it can close them itself (1001) before the graceful timeout", async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--graceful-timeout', '20', app('ws-server.cjs')], {
    env: { WS_CLOSE_ON_SHUTDOWN: '1' },
  });
  const target = await p.ready();
  const ws = await connect(target);
  t.after(() => ws.terminate());
  const end = closed(ws);
  await roundTrip(ws, 'hi');
  p.signal('SIGTERM');
  assert.equal((await end).code, 1001);
  assert.equal((await p.exited).code, 0);
  assert.ok(p.logs.some((l) => l.event === 'app-shutdown-done'));
  assert.equal(
    p.logs.filter((l) => l.event === 'drain-timeout').length,
    0,
    'nothing was left for the timeout to close',
  );
});
