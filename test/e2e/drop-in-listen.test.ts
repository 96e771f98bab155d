import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type LogLine, type Prefork, type Target, app, request, startPrefork, tempDir } from '../helpers/prefork.js';

// Drop-in mode follows net.Server's contract: every listen() signature Node accepts works, quietly,
// and server.address() says where the app is served, in Node's own shape.

const warnings = (logs: readonly LogLine[]): LogLine[] => logs.filter((l) => Number(l.level) >= 40);

/** Starts the signatures app in one worker; resolves with what its listen callback saw address() return. */
async function listened(p: Prefork, style: string): Promise<{ address: unknown; target: Target; targets: Target[] }> {
  const target = await p.ready();
  const line = await p.waitForLog((l) => l.event === 'console' && String(l.msg).startsWith(`listened ${style} `));
  const address: unknown = JSON.parse(String(line.msg).slice(`listened ${style} `.length));
  return { address, target, targets: p.targets() };
}

const signatures = [
  'port',
  'port-host',
  'port-host-backlog-cb',
  'port-cb',
  'options',
  'path',
  'path-options',
  'none',
  'cb-only',
  'promisify',
  'once-listening',
  'express',
  'koa',
  'fastify',
  'hono',
];

test("every listen() signature and callback style Node accepts: the callback runs with prefork's address, requests are served, nothing is logged as a warning", async (t) => {
  for (const style of signatures) {
    await t.test(style, async (t) => {
      const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('dropin-signatures.mjs')], {
        env: { LISTEN_STYLE: style },
      });
      const { address, target } = await listened(p, style);
      assert.deepEqual(address, { address: '127.0.0.1', family: 'IPv4', port: target.port });
      assert.deepEqual((await request(target)).json<{ style: string }>().style, style);
      assert.ok(p.logs.some((l) => l.event === 'listen-redirected'));
      assert.deepEqual(warnings(p.logs), []);
    });
  }
});

test('listen() twice without close() throws ERR_SERVER_ALREADY_LISTEN, as Node does; the first one serves', async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('dropin-signatures.mjs')], {
    env: { LISTEN_STYLE: 'twice' },
  });
  const { target } = await listened(p, 'twice');
  const reply = (await request(target)).json<{ style: string; second: string }>();
  assert.equal(reply.second, 'ERR_SERVER_ALREADY_LISTEN');
  assert.deepEqual(warnings(p.logs), []);
});

test("server.address() over IPv6 is Node's { address: '::1', family: 'IPv6', port } with the real port", async (t) => {
  const p = startPrefork(t, ['-w', '1', '-b', '[::1]:0', app('dropin-signatures.mjs')], {
    env: { LISTEN_STYLE: 'port-cb' },
  });
  const { address, target } = await listened(p, 'port-cb');
  assert.equal(target.host, '::1');
  assert.deepEqual(address, { address: '::1', family: 'IPv6', port: target.port });
  assert.equal((await request(target)).status, 200);
});

test("server.address() on a unix socket is the socket's path, as after Node's listen(path)", async (t) => {
  const sock = join(tempDir(t), 'app.sock');
  const p = startPrefork(t, ['-w', '1', '-b', `unix:${sock}`, app('dropin-signatures.mjs')], {
    env: { LISTEN_STYLE: 'port-cb' },
  });
  assert.equal((await listened(p, 'port-cb')).address, sock);
  assert.equal((await request({ socketPath: sock })).status, 200);
});

test('with a unix socket and a TCP port bound, an app that listened on a port sees the TCP address, one that listened on a path sees the path; both sockets serve it', async (t) => {
  const dir = tempDir(t);
  for (const [style, first] of [
    ['port-cb', 'unix'],
    ['path-options', 'tcp'],
  ] as const) {
    await t.test(`${style}, ${first} bound first`, async (t) => {
      const sock = join(dir, `${style}.sock`);
      const binds = first === 'unix' ? ['unix:' + sock, '127.0.0.1:0'] : ['127.0.0.1:0', 'unix:' + sock];
      const p = startPrefork(t, ['-w', '1', ...binds.flatMap((b) => ['-b', b]), app('dropin-signatures.mjs')], {
        env: { LISTEN_STYLE: style },
      });
      const { address, targets } = await listened(p, style);
      const tcp = targets.find((x) => x.port !== undefined)!;
      if (style === 'port-cb') assert.deepEqual(address, { address: '127.0.0.1', family: 'IPv4', port: tcp.port });
      else assert.equal(address, sock);
      for (const x of targets) assert.equal((await request(x)).json<{ style: string }>().style, style);
      assert.deepEqual(warnings(p.logs), []);
    });
  }
});

test("Fastify on a unix socket first: its listen() on 'localhost' also binds 127.0.0.1 for itself, a quiet no-op, no listen-refused warning", async (t) => {
  const sock = join(tempDir(t), 'app.sock');
  const p = startPrefork(t, ['-w', '2', '-b', `unix:${sock}`, app('dropin-fastify.mjs')]);
  await p.ready();
  await p.waitForLog((l) => l.event === 'console' && l.msg === `fastify listen() resolved with ${sock}`);
  assert.equal((await request({ socketPath: sock })).json<{ shape: string }>().shape, 'dropin-fastify');
  assert.deepEqual(warnings(p.logs), []);
  assert.equal(p.logs.filter((l) => l.event === 'listen-refused').length, 0);
  const sameApp = p.logs.filter((l) => l.event === 'listen-ignored');
  assert.deepEqual(
    sameApp.map((l) => l.target),
    ['a random port on 127.0.0.1', 'a random port on 127.0.0.1'],
    "one per worker: Fastify's second server, with the app's own handler",
  );
});

test("Fastify exported and listening on 'localhost', a unix socket bound: both its listen() calls are quiet no-ops, the export is served", async (t) => {
  const sock = join(tempDir(t), 'app.sock');
  const p = startPrefork(t, ['-w', '1', '-b', `unix:${sock}`, app('dropin-signatures.mjs')], {
    env: { LISTEN_STYLE: 'fastify-export' },
  });
  assert.equal((await listened(p, 'fastify-export')).address, sock);
  assert.equal((await request({ socketPath: sock })).json<{ style: string }>().style, 'fastify-export');
  assert.deepEqual(
    p.logs.filter((l) => l.event === 'listen-ignored').map((l) => l.target),
    ['port 3000 on localhost', 'a random port on 127.0.0.1'],
  );
  assert.deepEqual(warnings(p.logs), []);
});
