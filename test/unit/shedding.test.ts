import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { REPORT_STEP } from '../../src/shared/balance.js';
import { createLogger } from '../../src/shared/log.js';
import { emptyStats } from '../../src/shared/request-stats.js';
import { Shedding } from '../../src/worker/shedding.js';

const log = createLogger(
  { logLevel: 'silent', logFormat: 'json', logFile: null, name: null },
  { role: 'worker', worker: 1 },
);

function shedding(): { s: Shedding; moved: () => number; resumed: () => number; stats: ReturnType<typeof emptyStats> } {
  let moved = 0;
  let resumed = 0;
  const stats = emptyStats();
  const hooks = { connectionsMoved: () => (moved += 1), resume: () => (resumed += 1) };
  const s = new Shedding(log, hooks, stats, () => false);
  return { s, moved: () => moved, resumed: () => resumed, stats };
}

test('a connection counts as kept alive from its second request, once, until it closes', async () => {
  const { s } = shedding();
  const socket = new PassThrough();
  s.countRequestOn(socket, true);
  assert.equal(s.report(), 0);
  s.countRequestOn(socket, true);
  s.countRequestOn(socket, true);
  assert.equal(s.report(), 1);
  socket.destroy();
  await new Promise((resolve) => socket.once('close', resolve));
  assert.equal(s.report(), 0);
});

test('a connection whose first response closes it (Connection: close) is never marked', () => {
  const { s } = shedding();
  const socket = new PassThrough();
  const symbols = Object.getOwnPropertySymbols(socket).length;
  s.countRequestOn(socket, false);
  assert.equal(Object.getOwnPropertySymbols(socket).length, symbols, 'no property added to the socket');
  assert.equal(socket.listenerCount('close'), 0);
  s.countRequestOn(socket, true);
  s.countRequestOn(socket, true);
  assert.equal(s.report(), 1, 'a later kept-alive request (not sent by a real client after close) still counts');
  socket.destroy();
});

test('a move of REPORT_STEP kept-alive connections since the last report asks for an early heartbeat', () => {
  const { s, moved } = shedding();
  const sockets = Array.from({ length: REPORT_STEP }, () => new PassThrough());
  for (const socket of sockets.slice(0, -1)) [1, 2].forEach(() => s.countRequestOn(socket, true));
  assert.equal(moved(), 0);
  [1, 2].forEach(() => s.countRequestOn(sockets.at(-1)!, true));
  assert.equal(moved(), 1);
  assert.equal(s.report(), REPORT_STEP);
  sockets.forEach((socket) => socket.destroy());
});

test('shedding closes `count` connections after their response, counts them, then asks for the sockets back', async () => {
  const { s, resumed, stats } = shedding();
  s.start(2);
  const responses = [1, 2].map(() => ({ shouldKeepAlive: true }) as ServerResponse);
  for (const res of responses) {
    assert.ok(s.active);
    s.shedOne(res);
  }
  assert.equal(s.active, false);
  assert.deepEqual(
    responses.map((r) => r.shouldKeepAlive),
    [false, false],
  );
  assert.equal(stats.shed, 2);
  assert.equal(resumed(), 0);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(resumed(), 1);
});
