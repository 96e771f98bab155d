import assert from 'node:assert/strict';
import http from 'node:http';
import { type TestContext, test } from 'node:test';
import { type Prefork, type Target, app, eventually, request, startPrefork } from '../helpers/prefork.js';

/**
 * Request/Response semantics of a `{ fetch }` app served by the built CLI: what the light
 * Request/Response objects and the direct writes (src/worker/fetch-*.ts) must keep.
 */
let prefork: Prefork;
let target: Target;

/** A request whose response is read as it arrives: resolves the response once headers are in. */
function open(path: string, method = 'GET'): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, path, method, agent: false }, (res) => resolve({ req, res }));
    req.on('error', reject);
    if (method === 'GET') req.end();
    else req.flushHeaders();
  });
}

/** The next data of a response, as text, until it contains `want`. */
function readUntil(res: http.IncomingMessage, want: string, seen = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = seen;
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      if (text.includes(want)) {
        res.off('data', onData).off('end', onEnd);
        resolve(text);
      }
    };
    const onEnd = (): void => reject(new Error(`ended without ${want}: ${text}`));
    res.on('data', onData).on('end', onEnd);
  });
}

test(
  'a fetch app served by the built CLI keeps Request/Response semantics',
  { timeout: 60_000 },
  async (t: TestContext) => {
    prefork = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', app('fetch-semantics.mjs')]);
    target = await prefork.ready();

    await t.test(
      'a string body: status 200, text/plain;charset=UTF-8, a Content-Length, and no body for HEAD',
      async () => {
        const get = await request(target, { path: '/text' });
        assert.equal(get.status, 200);
        assert.equal(get.body, 'hello');
        assert.equal(get.headers['content-type'], 'text/plain;charset=UTF-8');
        assert.equal(get.headers['content-length'], '5');
        const head = await request(target, { path: '/text', method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.body, '');
        assert.equal(head.headers['content-length'], '5');
      },
    );

    await t.test('bytes keep no content type; a null body with 204 sends none', async () => {
      const bytes = await request(target, { path: '/bytes' });
      assert.equal(bytes.body, 'bytes');
      assert.equal(bytes.headers['content-type'], undefined);
      const empty = await request(target, { path: '/empty' });
      assert.equal(empty.status, 204);
      assert.equal(empty.body, '');
    });

    await t.test('status and statusText reach the client', async () => {
      const reply = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get({ ...target, path: '/status', agent: false }, resolve).on('error', reject);
      });
      reply.resume();
      assert.equal(reply.statusCode, 418);
      assert.equal(reply.statusMessage, 'Short And Stout');
    });

    await t.test(
      'multiple Set-Cookie headers stay separate, other repeated headers are joined, request headers arrive',
      async () => {
        const multi = await request(target, { path: '/multi', headers: { 'x-in': ['first', 'second'] } });
        assert.deepEqual(multi.headers['set-cookie'], ['a=1; Path=/', 'b=2; HttpOnly']);
        assert.equal(multi.headers['x-multi'], 'one, two');
        assert.equal(multi.body, 'x-in: first, second');
        const pairs = await request(target, { path: '/pairs' });
        assert.deepEqual(pairs.headers['set-cookie'], ['p=1', 'q=2']);
        assert.equal(pairs.headers['x-pair'], 'v');
        const plain = await request(target, { path: '/plain-headers' });
        assert.deepEqual(plain.headers['set-cookie'], ['only=1']);
        assert.equal(plain.headers['content-type'], 'application/json');
        assert.equal(plain.headers['x-custom'], 'v');
        const init = await request(target, { path: '/headers-init' });
        assert.deepEqual(init.headers['set-cookie'], ['h=1', 'i=2']);
        assert.equal(init.headers['content-type'], 'text/plain;charset=UTF-8');
        assert.equal(init.headers['x-late'], undefined, 'the Response copied its Headers when made');
        const json = await request(target, { path: '/json' });
        assert.deepEqual(json.json(), { static: true });
        assert.equal(json.headers['content-type'], 'application/json');
        assert.deepEqual(json.headers['set-cookie'], ['s=1']);
      },
    );

    await t.test(
      'Request and Response behave as the platform ones: instanceof, new Request(request), clone()',
      async () => {
        const reply = await request(target, { path: '/objects?x=1' });
        assert.equal(reply.status, 200, reply.body);
        assert.deepEqual(reply.json(), {
          requestIsRequest: true,
          responseIsResponse: true,
          fetchedIsResponse: true,
          copyUrl: `http://${target.host}:${target.port}/objects?x=1`,
          copyHeader: 'yes',
          cloneMethod: 'GET',
          madeType: 'text/plain;charset=UTF-8',
        });
      },
    );

    await t.test('the request body streams to the app before the client has sent it all', async () => {
      const req = http.request({ ...target, path: '/stream-in', method: 'POST', agent: false });
      const answered = new Promise<http.IncomingMessage>((resolve, reject) =>
        req.on('response', resolve).on('error', reject),
      );
      req.write('part one');
      const res = await answered;
      const first = await readUntil(res, 'first:part one\n');
      req.end('part two');
      const all = await readUntil(res, 'rest:part two\n', first);
      assert.equal(all, 'first:part one\nrest:part two\n');
      const echo = await request(target, { path: '/echo', method: 'POST', body: 'x'.repeat(100_000) });
      assert.equal(echo.status, 201);
      assert.equal(echo.body.length, 100_000);
    });

    await t.test('a ReadableStream response reaches the client as it is produced', async () => {
      const { res } = await open('/stream-out');
      assert.equal(res.headers['content-type'], 'text/plain');
      const first = await readUntil(res, 'one\n');
      assert.equal(first, 'one\n', 'the first chunk arrives before the stream closes');
      await request(target, { path: '/release' });
      assert.equal(await readUntil(res, 'two\n', first), 'one\ntwo\n');
    });

    await t.test("a client that disconnects aborts the request's signal and cancels the response stream", async () => {
      const { req, res } = await open('/endless');
      await readUntil(res, 'tick\n');
      req.destroy();
      await eventually(async () => {
        const { signal, cancelled } = (await request(target, { path: '/aborts' })).json<{
          signal: number;
          cancelled: number;
        }>();
        return signal === 1 && cancelled === 1;
      });
    });

    await t.test('a throw, a rejection or something not a Response is a 500 and an app-error log line', async () => {
      for (const path of ['/throw', '/reject', '/not-a-response']) {
        const reply = await request(target, { path });
        assert.equal(reply.status, 500, path);
        assert.equal(reply.body, 'Internal Server Error\n');
      }
      await prefork.waitForLog(
        (l) => l.event === 'app-error' && String(l.err && JSON.stringify(l.err)).includes('Response'),
      );
    });
  },
);
