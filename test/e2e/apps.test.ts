import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, distinctPids, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

const SHAPES: Array<[string, string, string[]]> = [
  ['a CommonJS request listener', 'pid.cjs', []],
  ['an ESM default export', 'esm-default.mjs', []],
  ['a named ESM export (module:export)', 'named.mjs:app', []],
  ['a named CommonJS export', 'named.cjs:handler', []],
  ['an http.Server', 'http-server.cjs', []],
  ['a WHATWG fetch object', 'fetch.mjs', []],
  ['a Koa app', 'koa.mjs', []],
  ['an Express app', 'express.cjs', []],
  ['a Hono app', 'hono.mjs', []],
  ['an async --factory', 'factory.mjs', ['--factory']],
  ['a sync --factory returning a fetch app', 'factory.mjs:syncFactory', ['--factory']],
];

for (const [what, spec, flags] of SHAPES) {
  test(`serves ${what} from 2 workers`, async (t) => {
    const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', ...flags, app(spec)]);
    const target = await p.ready();
    const reply = await request(target);
    assert.equal(reply.status, 200, reply.body);
    assert.equal((await distinctPids(target, 2)).size, 2);
  });
}

test('a fetch app gets method, path, query, body and multiple Set-Cookie headers', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('fetch.mjs')]);
  const target = await p.ready();
  const get = await request(target, { path: '/items?q=ab' });
  assert.deepEqual(get.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(get.json<{ path: string; q: string }>().q, 'ab');
  const post = await request(target, { method: 'POST', path: '/echo', body: 'hello body', headers: { 'content-type': 'text/plain' } });
  assert.equal(post.status, 201);
  assert.deepEqual(post.json<{ echo: string; path: string }>().echo, 'hello body');
});

test("an http.Server export's upgrade listener is served", async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('http-server.cjs')]);
  const target = await p.ready();
  const echoed = await new Promise<string>((done, fail) => {
    const s = net.connect(target.port!, target.host!);
    let text = '';
    s.on('data', (d) => {
      text += d.toString();
      if (text.includes('\r\n\r\n') && !text.includes('PING')) s.write('ping');
      if (text.includes('PING')) (s.destroy(), done(text));
    });
    s.on('error', fail);
    s.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  });
  assert.match(echoed, /^HTTP\/1.1 101/);
  assert.match(echoed, /PING$/);
});

const FAILURES: Array<[string, string, string[], RegExp]> = [
  ['a missing file', 'does-not-exist.js', [], /cannot load app .*does-not-exist\.js.*not found/],
  ['a module that throws at import', 'throws.cjs', [], /app .*throws\.cjs threw while loading: boom at import/],
  ['an export of the wrong shape', 'wrong-shape.cjs', [], /app .*wrong-shape\.cjs: the export is a number; expected a request listener/],
  ['a missing named export', 'named.mjs:nope', [], /app .*named\.mjs:nope has no export "nope"/],
  ['a module with no default export', 'no-default.mjs', [], /app .*no-default\.mjs has no default export/],
  ['a module that exits while loading', 'exits.cjs', [], /app .*exits\.cjs: worker \d exited with code 9 while loading/],
  ['--factory on a non-function', 'wrong-shape.cjs', ['--factory'], /--factory needs a function export, got a number/],
];

for (const [what, spec, flags, message] of FAILURES) {
  test(`${what}: exit 4 with one line naming the file and the cause, nothing left behind`, async (t) => {
    const dir = tempDir(t);
    const started = Date.now();
    const r = await runPrefork(t, ['-w', '2', '-b', `unix:${join(dir, 'app.sock')}`, ...flags, app(spec)]);
    assert.equal(r.code, 4, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, message);
    assert.deepEqual(readdirSync(dir), [], 'no socket file left');
    assert.ok(Date.now() - started < 5000, 'no fork loop');
    assert.ok(r.logs.filter((l) => l.event === 'worker' && l.state === 'booting').length <= 2, 'no worker was re-forked');
  });
}

test('a missing app file fails before anything is bound', async (t) => {
  const dir = tempDir(t);
  const r = await runPrefork(t, ['-b', `unix:${join(dir, 'app.sock')}`, join(dir, 'missing.js')]);
  assert.equal(r.code, 4);
  assert.equal(r.logs.filter((l) => l.event === 'listening').length, 0);
  assert.equal(existsSync(join(dir, 'app.sock')), false);
});
