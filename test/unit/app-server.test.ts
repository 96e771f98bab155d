import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type RawHandle, bindPipe, bindTcp } from '../../src/shared/internals.js';
import { onAppClose, ownHandleIndex, pipeAddress, sameHandlers } from '../../src/worker/app-server.js';

// Drop-in mode's decisions about the app's own server (src/worker/app-server.ts).

test("pipeAddress: a unix bind's path as Node's address() gives it; an abstract name as Node gives it after listen('\\0name')", () => {
  assert.equal(pipeAddress('unix:/run/app.sock'), '/run/app.sock');
  assert.equal(pipeAddress('unix:@app'), '\0app');
  assert.equal(pipeAddress('http://127.0.0.1:8080'), null);
  assert.equal(pipeAddress('fd://3'), null);
  assert.equal(pipeAddress(undefined), null);
});

test('ownHandleIndex: the first handle of the kind the app asked for (a port: TCP, a path: unix), else the first', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prefork-own-'));
  const tcp = bindTcp('127.0.0.1', 0, 4) as RawHandle;
  const pipe = bindPipe(join(dir, 'a.sock')) as RawHandle;
  t.after(() => {
    tcp.close();
    pipe.close();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(typeof tcp, 'object');
  assert.equal(typeof pipe, 'object');
  assert.equal(ownHandleIndex([pipe, tcp], false), 1);
  assert.equal(ownHandleIndex([pipe, tcp], true), 0);
  assert.equal(ownHandleIndex([tcp, pipe], true), 1);
  assert.equal(ownHandleIndex([tcp], true), 0, 'none of that kind: the first');
  assert.equal(ownHandleIndex([pipe], false), 0);
});

test("sameHandlers: a second server made with the app's own handler is the same app; one with another handler is not", () => {
  const handler: http.RequestListener = (_req, res) => res.end();
  const appListeners = [handler];
  assert.equal(sameHandlers(http.createServer(handler), appListeners), true);
  assert.equal(
    sameHandlers(
      http.createServer((_req, res) => res.end()),
      appListeners,
    ),
    false,
  );
  assert.equal(sameHandlers(http.createServer(), appListeners), false, 'no handler at all');
});

test("onAppClose: the app's close() is seen before Node closes, and still closes with its callback", async () => {
  const server = http.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const seen: boolean[] = [];
  onAppClose(server, (s) => seen.push(s.listening));
  await new Promise<void>((done, fail) => server.close((err) => (err ? fail(err) : done())));
  assert.deepEqual(seen, [true], 'seen once, while still listening');
  assert.equal(server.listening, false);
});
