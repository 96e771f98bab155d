import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, app, distinctPids, request, runPrefork, startPrefork, tempDir } from '../helpers/prefork.js';

/** [what, APP, flags, the `shape` its JSON answer names (null: the fixture does not say)]. */
const SHAPES: Array<[string, string, string[], string | null]> = [
  ['a CommonJS request listener', app('pid.cjs'), [], null],
  ['an ESM default export', app('esm-default.mjs'), [], 'esm-default'],
  ['a named ESM export (module:export)', app('named.mjs:app'), [], 'named'],
  ['a named CommonJS export', app('named.cjs:handler'), [], null],
  ['an http.Server', app('http-server.cjs'), [], 'http.Server'],
  ['a WHATWG fetch object', app('fetch.mjs'), [], 'fetch'],
  ['an async --factory', app('factory.mjs'), ['--factory'], 'factory'],
  ['a sync --factory returning a fetch app', app('factory.mjs:syncFactory'), ['--factory'], 'sync-factory'],
  // The framework matrix, each exported as its users write it, in ESM and in CommonJS.
  ['an Express 5 app (CommonJS, module.exports = app)', app('express.cjs'), [], 'express'],
  ['an Express 5 app (ESM)', app('express.mjs'), [], 'express'],
  ['a Fastify 5 instance (ESM): ready() awaited, plugin routes served', app('fastify.mjs'), [], 'fastify'],
  ['a Fastify 5 instance (CommonJS)', app('fastify.cjs'), [], 'fastify'],
  ['a Koa 3 app (ESM)', app('koa.mjs'), [], 'koa'],
  ['a Koa 3 app (CommonJS)', app('koa.cjs'), [], 'koa'],
  ['a Hono 4 app (ESM), through its fetch', app('hono.mjs'), [], 'hono'],
  ['a Hono 4 app (CommonJS)', app('hono.cjs'), [], 'hono'],
  // Real tsc output of test/fixtures/ts (npm run build compiles it): .mts -> ESM, .cts -> CommonJS.
  [
    'a TypeScript Fastify app compiled by tsc to ESM',
    join(ROOT, 'dist/test/fixtures/ts/fastify-app.mjs'),
    [],
    'typescript-esm',
  ],
  [
    'a TypeScript Express app compiled by tsc to CommonJS (export =)',
    join(ROOT, 'dist/test/fixtures/ts/express-app.cjs'),
    [],
    'typescript-cjs',
  ],
];

for (const [what, spec, flags, shape] of SHAPES) {
  test(`serves ${what} from 2 workers`, async (t) => {
    const p = startPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', ...flags, spec]);
    const target = await p.ready();
    const reply = await request(target);
    assert.equal(reply.status, 200, reply.body);
    if (shape !== null) assert.equal(reply.json<{ shape: string }>().shape, shape, reply.body);
    assert.equal((await distinctPids(target, 2)).size, 2);
  });
}

test('the TypeScript fixtures are real tsc output', () => {
  const esm = readFileSync(join(ROOT, 'dist/test/fixtures/ts/fastify-app.mjs'), 'utf8');
  const cjs = readFileSync(join(ROOT, 'dist/test/fixtures/ts/express-app.cjs'), 'utf8');
  assert.match(esm, /^import Fastify from 'fastify';$/m);
  assert.doesNotMatch(esm, /: FastifyInstance|interface Reply/, 'types are gone');
  assert.match(cjs, /^"use strict";/);
  assert.match(cjs, /module\.exports = app;/);
});

test('a fetch app gets method, path, query, body and multiple Set-Cookie headers', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('fetch.mjs')]);
  const target = await p.ready();
  const get = await request(target, { path: '/items?q=ab' });
  assert.deepEqual(get.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(get.json<{ path: string; q: string }>().q, 'ab');
  const post = await request(target, {
    method: 'POST',
    path: '/echo',
    body: 'hello body',
    headers: { 'content-type': 'text/plain' },
  });
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
      if (text.includes('PING')) {
        s.destroy();
        done(text);
      }
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
  // Nothing servable, no listen() (drop-in mode) and nothing pending: told at once, not at --boot-timeout.
  [
    'an export of the wrong shape, and no listen()',
    'wrong-shape.cjs',
    [],
    /app .*wrong-shape\.cjs exports a number, called no listen\(\) and has nothing pending .*: export a request listener/,
  ],
  [
    'a named export of the wrong shape',
    'named.mjs:notAnApp',
    [],
    /app .*named\.mjs:notAnApp: the export is a number; expected a request listener/,
  ],
  ['a missing named export', 'named.mjs:nope', [], /app .*named\.mjs:nope has no export "nope"/],
  [
    'a module with no default export, and no listen()',
    'no-default.mjs',
    [],
    /app .*no-default\.mjs has no default export \(or module\.exports\), called no listen\(\) and has nothing pending .*: export a request listener/,
  ],
  [
    'a module that exits while loading',
    'exits.cjs',
    [],
    /app .*exits\.cjs: worker \d exited with code 9 while loading/,
  ],
  ['--factory on a non-function', 'wrong-shape.cjs', ['--factory'], /--factory needs a function export, got a number/],
  [
    'a Fastify instance whose ready() fails',
    'fastify-fails.mjs',
    [],
    /app .*fastify-fails\.mjs: Fastify's ready\(\) failed: database unreachable/,
  ],
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
    assert.ok(
      r.logs.filter((l) => l.event === 'worker' && l.state === 'booting').length <= 2,
      'no worker was re-forked',
    );
  });
}

test('a missing app file fails before anything is bound', async (t) => {
  const dir = tempDir(t);
  const r = await runPrefork(t, ['-b', `unix:${join(dir, 'app.sock')}`, join(dir, 'missing.js')]);
  assert.equal(r.code, 4);
  assert.equal(r.logs.filter((l) => l.event === 'listening').length, 0);
  assert.equal(existsSync(join(dir, 'app.sock')), false);
});
