/**
 * Node's own Request or Response. Reading either global loads undici, and with it http2 and tls
 * (10-15 ms of a worker's start-up on Node 22 and 24), so the fetch adapter reads them only once a
 * fetch app has loaded. By then the app may have put its own class there, derived from Node's
 * (@hono/node-server does, for both): Node's is the root of the chain, as undici's classes
 * extend nothing.
 */
export function nativeClass<N extends 'Request' | 'Response'>(name: N): (typeof globalThis)[N] {
  let found: unknown = globalThis[name];
  while (typeof found === 'function' && Object.getPrototypeOf(found) !== Function.prototype) {
    found = Object.getPrototypeOf(found);
  }
  return found as (typeof globalThis)[N];
}
