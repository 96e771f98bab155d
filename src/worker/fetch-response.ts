import { nativeClass } from './native-fetch.js';

/**
 * A light Response for fetch apps. Node's Response (undici's) costs several microseconds to make
 * and more to read back through its body stream, which made a Hono hello world 4x slower under
 * prefork's adapter than under a (req, res) listener. The common answer (a string or bytes, a
 * status, a few headers) needs none of that: LightResponse keeps what it was given, the adapter
 * writes it to the socket directly, and anything else an app asks of it (body, clone(), text()
 * ...) is answered by a real Response made on first use. It stands in for the global Response in
 * workers that serve a fetch app (installFetchGlobals), as @hono/node-server does for Hono's own
 * Node server; `instanceof Response` holds both ways.
 */

const NativeResponse = nativeClass('Response');

/** What the adapter writes without a real Response: body, status, status text, headers. */
export interface Plain {
  body: string | Uint8Array | null;
  status: number;
  statusText: string;
  /** undefined: none given; a Headers once the app has read them. */
  headers: Record<string, string> | Headers | undefined;
}

const PLAIN = Symbol('prefork.plainResponse');
const NATIVE = Symbol('prefork.nativeResponse');
const TOKEN = /^[!#$%&'*+\-.^_`|~\dA-Za-z]+$/;
/** What Node writes as it is: no control characters, no HTTP whitespace at either end (Headers would trim it). */
const VALUE = /^(?![\t ])[\t\x20-\x7e\x80-\xff]*(?<![\t ])$/;
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
/** What Response gives a string body without a content type. */
export const TEXT = 'text/plain;charset=UTF-8';

function plainHeaders(headers: unknown): headers is Record<string, string> | undefined {
  if (headers === undefined) return true;
  if (typeof headers !== 'object' || headers === null || Object.getPrototypeOf(headers) !== Object.prototype)
    return false;
  for (const name in headers) {
    const value = (headers as Record<string, unknown>)[name];
    if (typeof value !== 'string' || !TOKEN.test(name) || !VALUE.test(value)) return false;
  }
  return true;
}

/**
 * The parts, when they are ones a real Response would accept as they are: anything else (a
 * stream, a Blob, a bad status) is given to a real Response at once, so errors come where they
 * would without prefork.
 */
function plainParts(body: unknown, init: ResponseInit | undefined): Plain | null {
  if (!(body == null || typeof body === 'string' || body instanceof Uint8Array)) return null;
  if (init !== undefined && (typeof init !== 'object' || init === null)) return null;
  const status = init?.status ?? 200;
  const statusText = init?.statusText ?? '';
  if (!Number.isInteger(status) || status < 200 || status > 599) return null;
  if (typeof statusText !== 'string' || !REASON.test(statusText)) return null;
  if (body != null && NULL_BODY.has(status)) return null;
  let headers = init?.headers;
  if (headers instanceof Headers) {
    // A copy, as Response makes one: the app may change its own Headers afterwards.
    headers = new Headers(headers);
    if (typeof body === 'string' && !headers.has('content-type')) headers.set('content-type', TEXT);
  } else if (!plainHeaders(headers)) {
    return null;
  }
  return { body: body ?? null, status, statusText, headers };
}

class LightResponse {
  [PLAIN]: Plain | null;
  [NATIVE]: Response | null = null;

  constructor(body?: ConstructorParameters<typeof Response>[0], init?: ResponseInit) {
    this[PLAIN] = plainParts(body, init);
    if (this[PLAIN] === null) this[NATIVE] = new NativeResponse(body, init);
  }

  /** A real Response is a Response too; a subclass of this one checks as classes do. */
  static [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    if (this === LightResponse) return value instanceof NativeResponse;
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  get status(): number {
    return this[PLAIN]?.status ?? native(this).status;
  }

  get ok(): boolean {
    const { status } = this;
    return status >= 200 && status < 300;
  }

  get statusText(): string {
    return this[PLAIN]?.statusText ?? native(this).statusText;
  }

  get headers(): Headers {
    const plain = this[PLAIN];
    if (plain === null) return native(this).headers;
    if (!(plain.headers instanceof Headers)) {
      const headers = new Headers(plain.headers);
      if (typeof plain.body === 'string' && !headers.has('content-type')) headers.set('content-type', TEXT);
      plain.headers = headers;
    }
    return plain.headers;
  }
}

/** The real Response, made once: from now on every property is its own. */
function native(light: LightResponse): Response {
  const plain = light[PLAIN];
  if (plain !== null) {
    const { body, status, statusText, headers } = plain;
    light[NATIVE] = new NativeResponse(body, { status, statusText, headers });
    light[PLAIN] = null;
  }
  return light[NATIVE]!;
}

// Everything else a Response has, answered by the real one: whatever this Node's Response offers.
for (const key of Object.getOwnPropertyNames(NativeResponse.prototype)) {
  if (key === 'constructor' || Object.hasOwn(LightResponse.prototype, key)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(NativeResponse.prototype, key)!;
  if (typeof descriptor.value === 'function') {
    const method = descriptor.value as (...args: unknown[]) => unknown;
    Object.defineProperty(LightResponse.prototype, key, {
      value(this: LightResponse, ...args: unknown[]) {
        return method.apply(native(this), args);
      },
      writable: true,
      configurable: true,
    });
  } else if (descriptor.get !== undefined) {
    const get = descriptor.get;
    Object.defineProperty(LightResponse.prototype, key, {
      get(this: LightResponse) {
        return get.call(native(this));
      },
      configurable: true,
    });
  }
}
Object.defineProperty(LightResponse.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value(this: LightResponse) {
    return native(this);
  },
});
// Response.json(), Response.redirect(), Response.error() and `extends Response` keep working.
Object.setPrototypeOf(LightResponse, NativeResponse);
Object.setPrototypeOf(LightResponse.prototype, NativeResponse.prototype);

/** For the adapter: the parts of a Response it can write itself, or null (write it from a real Response). */
export function plainOf(response: object): Plain | null {
  return (response as Partial<LightResponse>)[PLAIN] ?? null;
}

/** The real Response behind a light one (made now if need be), or the response itself. */
export function nativeOf(response: object): Response {
  return PLAIN in response ? native(response as LightResponse) : (response as Response);
}

export const LightResponseClass = LightResponse as unknown as typeof Response;
