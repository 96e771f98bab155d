import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { type Target, app, request, runPrefork, sleep, startPrefork } from '../helpers/prefork.js';

interface Trickled {
  /** What the server sent back before it closed, if anything. */
  reply: string;
  /** Milliseconds from connecting until the server ended the connection. */
  ms: number;
  /** Bytes the client had sent by then. */
  sent: number;
}

/**
 * A slow client on a raw socket: sends `head` at once, then `trickle` one byte every 200 ms, and
 * reports when the server ended the connection (gives up after `maxMs`).
 */
function trickle(target: Target, head: string, slow: string, maxMs = 8000): Promise<Trickled> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect({ host: target.host!, port: target.port! });
    let reply = '';
    let sent = 0;
    let timer: NodeJS.Timeout | null = null;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server still held the slow connection after ${maxMs} ms (${sent} bytes sent)`));
    }, maxMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(head);
      sent += head.length;
      let i = 0;
      timer = setInterval(() => {
        if (i >= slow.length || !socket.writable) return;
        socket.write(slow[i]!);
        i += 1;
        sent += 1;
      }, 200);
    });
    socket.once('close', () => {
      if (timer !== null) clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ reply, ms: Date.now() - started, sent });
    });
  });
}

/** Normal requests on fresh connections, back to back, until `until` settles. */
async function meanwhile(target: Target, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.then(
    () => (done = true),
    () => (done = true),
  );
  const statuses: number[] = [];
  while (!done) {
    statuses.push((await request(target, { headers: { connection: 'close' } })).status);
    await sleep(100);
  }
  return statuses;
}

test('--headers-timeout 1: a client trickling its headers gets 408 within ~2 s; the worker keeps serving meanwhile', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--headers-timeout', '1', app('pid.cjs')]);
  const target = await p.ready();
  // 40 bytes at 5 per second: the head would take 8 s to complete.
  const slow = trickle(target, '', `GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(20)}\r\n\r\n`);
  const statuses = await meanwhile(target, slow);
  const result = await slow;
  assert.match(result.reply, /^HTTP\/1\.1 408 /, `answered 408, got ${JSON.stringify(result.reply)}`);
  assert.ok(
    result.ms < 2500,
    `cut after ${result.ms} ms; expected about 1 s (Node alone would wait for its 30 s sweep)`,
  );
  assert.ok(result.sent < 40, 'cut before the head was complete');
  assert.ok(
    statuses.length >= 3 && statuses.every((s) => s === 200),
    `normal requests meanwhile: ${statuses.join(',')}`,
  );
  assert.equal((await p.stop()).code, 0);
});

test('a connection that sends nothing at all is closed at --headers-timeout too', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--headers-timeout', '1', app('pid.cjs')]);
  const target = await p.ready();
  const result = await trickle(target, '', '');
  assert.ok(result.ms < 2500, `closed after ${result.ms} ms`);
  assert.equal((await p.stop()).code, 0);
});

test('--request-timeout bounds the upload, not the response: a trickled body gets 408, a slow handler still answers', async (t) => {
  const p = startPrefork(t, [
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--headers-timeout',
    '1',
    '--request-timeout',
    '2',
    app('pid.cjs'),
  ]);
  const target = await p.ready();
  const slowHandler = request(target, { path: '/slow?ms=3000' }).then(
    (r) => r.status,
    (err: Error) => err.message,
  );
  // The handler answers only after 5 s, so the client is still uploading when the limit hits.
  const head = 'POST /slow?ms=5000 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n';
  const upload = await trickle(target, head, 'b'.repeat(100));
  assert.match(upload.reply, /^HTTP\/1\.1 408 /, `answered 408, got ${JSON.stringify(upload.reply)}`);
  assert.ok(upload.ms >= 1500 && upload.ms < 3500, `cut after ${upload.ms} ms; expected about 2 s`);
  assert.ok(upload.sent < head.length + 100, 'cut before the body was complete');
  assert.equal(await slowHandler, 200, 'a handler slower than --request-timeout is not cut');
  assert.equal((await p.stop()).code, 0);
});

test('--max-header-size: a larger request head gets 431, a smaller one is served', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--max-header-size', '2048', app('pid.cjs')]);
  const target = await p.ready();
  assert.equal((await request(target, { headers: { 'x-big': 'a'.repeat(4000) } })).status, 431);
  assert.equal((await request(target, { headers: { 'x-big': 'a'.repeat(1000) } })).status, 200);
  assert.equal((await p.stop()).code, 0);
});

test('--headers-timeout longer than --request-timeout exits 2 with one line, unless the request timeout is off', async (t) => {
  const bad = await runPrefork(t, [
    '--headers-timeout',
    '20',
    '--request-timeout',
    '10',
    '-b',
    '127.0.0.1:0',
    app('pid.cjs'),
  ]);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    'prefork: invalid --headers-timeout 20: expected at most --request-timeout 10 (the headers are part of the request), or --request-timeout 0 (off)\n',
  );
  assert.equal(bad.logs.filter((l) => l.event === 'listening').length, 0);
  const off = await runPrefork(t, [
    '--check-config',
    '--headers-timeout',
    '20',
    '--request-timeout',
    '0',
    app('pid.cjs'),
  ]);
  assert.equal(off.code, 0, off.stderr);
  const defaults = JSON.parse((await runPrefork(t, ['--check-config', app('pid.cjs')])).stdout) as Record<
    string,
    unknown
  >;
  assert.deepEqual([defaults.headersTimeout, defaults.requestTimeout, defaults.maxHeaderSize], [10, 300, 16384]);
});
