import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** A WHATWG fetch app (Hono, itty-router, plain objects): fetch(request) => Response. */
export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

const NO_BODY = new Set(['GET', 'HEAD']);

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const protocol = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  let url: URL;
  try {
    url = new URL(req.url ?? '/', `${protocol}://${req.headers.host ?? 'localhost'}`);
  } catch {
    url = new URL(req.url ?? '/', `${protocol}://localhost`);
  }
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (!NO_BODY.has(method)) {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(url, init);
}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  const setCookies = response.headers.getSetCookie();
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value);
  });
  if (setCookies.length > 0) res.setHeader('set-cookie', setCookies);
  if (response.body === null) {
    res.end();
    return;
  }
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    if (res.destroyed) return;
    if (!res.write(chunk)) await new Promise((done) => res.once('drain', done).once('close', done));
  }
  res.end();
}

export function fetchListener(app: FetchApp, onError: (err: unknown) => void): RequestListener {
  return (req, res) => {
    const aborted = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) aborted.abort();
    });
    Promise.resolve()
      .then(() => app.fetch(toRequest(req, aborted.signal)))
      .then((response) => writeResponse(response, res))
      .catch((err: unknown) => {
        onError(err);
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader('content-type', 'text/plain');
          res.end('Internal Server Error\n');
        } else {
          res.destroy();
        }
      });
  };
}
