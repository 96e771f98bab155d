import type { IncomingMessage, ServerResponse } from 'node:http';
import { installRequestGlobals, lazyRequest } from './fetch-request.js';
import { LightResponseClass, type Plain, TEXT, nativeOf, plainOf } from './fetch-response.js';

/** A WHATWG fetch app (Hono, itty-router, plain objects): fetch(request) => Response. */
export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

/**
 * Light Request and Response objects in this worker (see fetch-request.ts, fetch-response.ts).
 * Only a worker serving a fetch app calls it, once its app has loaded.
 */
function installFetchGlobals(): void {
  installRequestGlobals();
  if (globalThis.Response !== LightResponseClass)
    Object.defineProperty(globalThis, 'Response', { value: LightResponseClass, writable: true, configurable: true });
}

/** A light response: one writeHead() and one end(), with a Content-Length when the app gave none. */
function writePlain(plain: Plain, res: ServerResponse): void {
  const { body, status, statusText, headers } = plain;
  const raw: string[] = [];
  let type = false;
  let length = false;
  if (headers instanceof Headers) {
    headers.forEach((value, name) => void raw.push(name, value));
    type = headers.has('content-type');
    length = headers.has('content-length');
  } else if (headers !== undefined) {
    for (const name in headers) {
      const lower = name.toLowerCase();
      if (lower === 'content-type') type = true;
      else if (lower === 'content-length') length = true;
      raw.push(lower, headers[name]!);
    }
  }
  if (typeof body === 'string') {
    if (!type) raw.push('content-type', TEXT);
    if (!length) raw.push('content-length', String(Buffer.byteLength(body)));
  } else if (body !== null && !length) {
    raw.push('content-length', String(body.byteLength));
  }
  if (statusText === '') res.writeHead(status, raw);
  else res.writeHead(status, statusText, raw);
  res.end(body ?? undefined);
}

/** Any other Response: its headers, then its body as it streams, as fast as the client reads. */
async function writeStreamed(response: Response, res: ServerResponse): Promise<void> {
  const raw: string[] = [];
  response.headers.forEach((value, name) => void raw.push(name, value));
  if (response.statusText === '') res.writeHead(response.status, raw);
  else res.writeHead(response.status, response.statusText, raw);
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value) && !res.destroyed) await writable(res);
    }
    res.end();
  } finally {
    // The client went away: tell the body's source, so a generator or an upstream fetch stops.
    if (res.destroyed) void reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Resolves once the client has read what was written, or went away. */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resume) => {
    const done = (): void => {
      res.off('drain', done).off('close', done);
      resume();
    };
    res.on('drain', done).on('close', done);
  });
}

function send(response: unknown, res: ServerResponse): Promise<void> | undefined {
  if (!(response instanceof LightResponseClass))
    throw new TypeError(`fetch() returned ${response === null ? 'null' : typeof response}, expected a Response`);
  const plain = plainOf(response);
  if (plain === null) return writeStreamed(nativeOf(response), res);
  writePlain(plain, res);
  return undefined;
}

/**
 * The app's fetch() as a request listener. What fails (a throw, a rejection, something not a
 * Response, a body stream that errors) is the request's failure, returned as the listener's
 * result: the worker answers it as any listener's (http-servers.ts #onRequest: a 500, or the
 * response cut short, and an app-error line).
 */
export function fetchListener(app: FetchApp): (req: IncomingMessage, res: ServerResponse) => unknown {
  installFetchGlobals();
  return (req, res) => {
    const result = app.fetch(lazyRequest(req, res));
    // A Response at once (Hono's synchronous handlers): no promise, no extra tick.
    if (result instanceof LightResponseClass) return send(result, res);
    return Promise.resolve(result).then((response) => send(response, res));
  };
}
