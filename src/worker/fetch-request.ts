import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { nativeClass } from './native-fetch.js';

/**
 * The Request a fetch app is given, made lazily. Node's Request costs several microseconds (URL
 * parsing, a Headers copy, a body stream, an AbortSignal) and most apps read only its method and
 * URL to route: LazyRequest answers those itself, makes headers and the abort signal when first
 * read, and a real Request (from the same parts) for anything else. Its prototype is Request's,
 * so `instanceof Request` holds; installFetchGlobals() lets `new Request(it)` and `fetch(it)` see
 * the real one.
 */

const NativeRequest = nativeClass('Request');
const NO_BODY = new Set(['GET', 'HEAD']);
const NATIVE = Symbol('prefork.nativeRequest');
const MAKE_NATIVE = Symbol('prefork.makeNativeRequest');

/** A target whose URL is origin + target as it is: nothing URL parsing would change (it encodes ' in a query). */
const PLAIN_TARGET = /^\/[\w\-.~!$&()*+,;=:@/?%]*$/;
const DOT_SEGMENT = /\/\.|%2e/i;
/** Origins by "protocol host header", each parsed once (a client can send any Host: bounded). */
const origins = new Map<string, string>();
const MAX_ORIGINS = 100;

function originOf(protocol: string, host: string | undefined): string {
  const key = `${protocol} ${host}`;
  let origin = origins.get(key);
  if (origin === undefined) {
    try {
      origin = new URL(`${protocol}://${host ?? 'localhost'}`).origin;
    } catch {
      origin = `${protocol}://localhost`;
    }
    if (origins.size >= MAX_ORIGINS) origins.clear();
    origins.set(key, origin);
  }
  return origin;
}

/** The URL of a request, as `new URL()` would make it from the Host header and the request target. */
export function requestUrl(protocol: 'http' | 'https', host: string | undefined, target: string): string {
  const origin = originOf(protocol, host);
  if (PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target)) return origin + target;
  try {
    return target.startsWith('/') ? new URL(origin + target).href : new URL(target, origin).href;
  } catch {
    return `${origin}/`;
  }
}

class LazyRequest {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  #url: string | null = null;
  #headers: Headers | null = null;
  #abort: AbortController | null = null;
  [NATIVE]: Request | null = null;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#req = req;
    this.#res = res;
  }

  get method(): string {
    return this.#req.method ?? 'GET';
  }

  get url(): string {
    if (this.#url !== null) return this.#url;
    const req = this.#req;
    const protocol = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
    return (this.#url = requestUrl(protocol, req.headers.host, req.url ?? '/'));
  }

  get headers(): Headers {
    if (this[NATIVE] !== null) return this[NATIVE].headers;
    if (this.#headers === null) {
      const raw = this.#req.rawHeaders;
      const headers = new Headers();
      for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** Aborted when the client goes away before the whole response is written. */
  get signal(): AbortSignal {
    if (this.#abort === null) {
      const abort = new AbortController();
      const res = this.#res;
      if (res.closed) {
        if (!res.writableFinished) abort.abort();
      } else {
        res.once('close', () => {
          if (!res.writableFinished) abort.abort();
        });
      }
      this.#abort = abort;
    }
    return this.#abort.signal;
  }

  /** The real Request, made once from the same parts (the body streams from the socket). */
  [MAKE_NATIVE](): Request {
    if (this[NATIVE] !== null) return this[NATIVE];
    const { method } = this;
    const init: RequestInit & { duplex?: 'half' } = { method, headers: this.headers, signal: this.signal };
    if (!NO_BODY.has(method)) {
      init.body = Readable.toWeb(this.#req) as unknown as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
    return (this[NATIVE] = new NativeRequest(this.url, init));
  }
}

const OWN = new Set(Object.getOwnPropertyNames(LazyRequest.prototype));
for (const key of Object.getOwnPropertyNames(NativeRequest.prototype)) {
  if (OWN.has(key)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(NativeRequest.prototype, key)!;
  if (typeof descriptor.value === 'function') {
    const method = descriptor.value as (...args: unknown[]) => unknown;
    Object.defineProperty(LazyRequest.prototype, key, {
      value(this: LazyRequest, ...args: unknown[]) {
        return method.apply(this[MAKE_NATIVE](), args);
      },
      writable: true,
      configurable: true,
    });
  } else if (descriptor.get !== undefined) {
    const get = descriptor.get;
    Object.defineProperty(LazyRequest.prototype, key, {
      get(this: LazyRequest) {
        return get.call(this[MAKE_NATIVE]());
      },
      configurable: true,
    });
  }
}
Object.defineProperty(LazyRequest.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value(this: LazyRequest) {
    return this[MAKE_NATIVE]();
  },
});
Object.setPrototypeOf(LazyRequest.prototype, NativeRequest.prototype);

export function lazyRequest(req: IncomingMessage, res: ServerResponse): Request {
  return new LazyRequest(req, res) as unknown as Request;
}

/** A lazy request's real Request; anything else as it is. */
export function unwrapRequest<T>(input: T): T | Request {
  return input instanceof LazyRequest ? input[MAKE_NATIVE]() : input;
}

/**
 * In a worker serving a fetch app: `Request` and `Response` become ones that know the light
 * objects (new Request(lazy) and fetch(lazy) take the real Request behind it), and `Response`
 * makes light responses. What the app made before this is real, and works as it did.
 */
export function installRequestGlobals(): void {
  // An app's own Request (@hono/node-server's) stays.
  if (globalThis.Request !== NativeRequest) return;
  class PreforkRequest extends NativeRequest {
    constructor(input: Request | string | URL, init?: RequestInit) {
      super(unwrapRequest(input), init);
    }

    static override [Symbol.hasInstance](this: unknown, value: unknown): boolean {
      if (this === PreforkRequest) return value instanceof NativeRequest;
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
  }
  const nativeFetch = globalThis.fetch;
  const fetch = (input: Request | string | URL, init?: RequestInit): Promise<Response> =>
    nativeFetch(unwrapRequest(input), init);
  for (const [name, value] of [
    ['Request', PreforkRequest],
    ['fetch', fetch],
  ] as const)
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
}
