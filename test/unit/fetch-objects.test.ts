import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { requestUrl } from '../../src/worker/fetch-request.js';
import { LightResponseClass, nativeOf, plainOf } from '../../src/worker/fetch-response.js';

/** What the URL parser makes of the same parts: the light Request's url must be the same string. */
function parsed(protocol: 'http' | 'https', host: string, target: string): string {
  let origin: string;
  try {
    origin = new URL(`${protocol}://${host}`).origin;
  } catch {
    origin = `${protocol}://localhost`;
  }
  try {
    return target.startsWith('/') ? new URL(origin + target).href : new URL(target, origin).href;
  } catch {
    return `${origin}/`;
  }
}

const targetChars = fc.constantFrom(...'/abz09.-_~%2eE?#&=+ :@!$\'()*,;[]"<>\\^`{|}é\t'.split(''));
const target = fc.oneof(
  fc.string({ unit: targetChars }).map((s) => `/${s}`),
  fc.constantFrom('/', '/a/../b', '/%2e%2E/x', '/./a', '//x/y', '/a?b=c d', '*', 'http://other:8080/p?q', '/caf\u00e9'),
);
const host = fc.oneof(
  fc.constantFrom('localhost', 'example.com:8080', 'EXAMPLE.com', '127.1', '[::1]:3000', 'a b', 'h:80', 'h:443', ''),
  fc.string(),
);

test('requestUrl: the same URL as parsing Host and the request target, fast path or not', () => {
  fc.assert(
    fc.property(fc.constantFrom('http' as const, 'https' as const), host, target, (protocol, h, t) => {
      assert.equal(requestUrl(protocol, h, t), parsed(protocol, h, t));
    }),
    { numRuns: 3000 },
  );
});

test('LightResponse: reads as a Response; what it cannot hold as it is goes to a real Response at once', async () => {
  const light = new LightResponseClass('hi', { status: 201, headers: { 'x-a': '1' } });
  assert.ok(light instanceof Response && light instanceof LightResponseClass);
  assert.ok(new Response('x') instanceof LightResponseClass, 'a real Response is one too');
  assert.deepEqual([light.status, light.ok, light.statusText], [201, true, '']);
  assert.equal(plainOf(light)?.body, 'hi', 'kept for the direct write');
  assert.equal(light.headers.get('content-type'), 'text/plain;charset=UTF-8');
  assert.equal(await light.text(), 'hi');
  assert.equal(plainOf(light), null, 'a body read makes it real');
  assert.equal(nativeOf(light).headers.get('x-a'), '1');
  // Errors where the platform's Response throws them: in the constructor.
  assert.throws(() => new LightResponseClass('x', { status: 99 }), RangeError);
  assert.throws(() => new LightResponseClass('x', { status: 204 }), TypeError);
  assert.throws(() => new LightResponseClass('x', { headers: { 'bad name': 'v' } }), TypeError);
  const stream = new LightResponseClass(new ReadableStream());
  assert.equal(plainOf(stream), null);
  class Mine extends LightResponseClass {}
  assert.ok(new Mine('x') instanceof Mine && !(new LightResponseClass('x') instanceof Mine));
});
