import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { closeConnectionsAfterResponses } from '../../src/worker/server-options.js';

// This file's own process: the hook changes node:http for good, as it does in a draining worker.

test('closeConnectionsAfterResponses: a response in flight when it is called, and every later one, says Connection: close', async (t) => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const express = Object.create(http.ServerResponse.prototype) as object;
  const server = http.createServer((req, res) => {
    // Express swaps each response's prototype for its own, which inherits from node's.
    if (req.url === '/express') Object.setPrototypeOf(res, express);
    if (req.url === '/held') void held.then(() => res.end('late'));
    else res.end('now');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const agent = new http.Agent({ keepAlive: true });
  t.after(() => {
    agent.destroy();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  const get = (path: string): Promise<string | undefined> =>
    new Promise((done, fail) => {
      http
        .get({ host: '127.0.0.1', port, agent, path }, (res) =>
          res.resume().on('end', () => done(res.headers.connection)),
        )
        .on('error', fail);
    });
  assert.equal(await get('/'), 'keep-alive');
  const inFlight = get('/held');
  await new Promise((tick) => setTimeout(tick, 50));
  assert.equal(closeConnectionsAfterResponses(), true, `${process.version} has ServerResponse#_storeHeader to hook`);
  assert.equal(closeConnectionsAfterResponses(), true, 'a second call changes nothing');
  release();
  assert.equal(await inFlight, 'close');
  assert.equal(await get('/'), 'close');
  assert.equal(await get('/express'), 'close');
});
