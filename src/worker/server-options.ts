import type http from 'node:http';
import type https from 'node:https';
import type net from 'node:net';
import { type RawHandle, handleKind } from '../shared/internals.js';
import type { WorkerSettings } from '../shared/messages.js';

export type Server = http.Server | https.Server;

/**
 * node:http through the CommonJS loader, not `import`: an ESM import of a builtin reads every
 * export, and node:http's lazy WebSocket/EventSource getters then load undici (Node 22 and 24:
 * ~14 ms of each worker's start-up and ~2 MB that nothing here uses).
 */
export const nodeHttp: typeof http = process.getBuiltinModule('node:http');

/**
 * node:https (and with it tls and crypto, ~5 ms and 1.5 MB) loads only for a worker that serves
 * HTTPS or an app's own HTTPS server.
 */
export const loadHttps = (): typeof https => process.getBuiltinModule('node:https');

/** What the client gets when Node's parser gives up on a request; anything else is a 400. */
const CLIENT_ERROR_REPLIES: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * Node checks headersTimeout and requestTimeout only when its connection sweep runs, every 30 s
 * by default, so a 10 s limit would really be 10 to 40 s. Sweeping at half the shortest limit
 * (at most every second) keeps each limit within 50% (or 1 s) of what the operator set.
 */
export function connectionsCheckingInterval(headersTimeoutMs: number, requestTimeoutMs: number): number {
  const limits = [headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0);
  if (limits.length === 0) return 30_000;
  return Math.max(10, Math.min(1000, Math.floor(Math.min(...limits) / 2)));
}

/**
 * HTTPS on TCP handles when the master sent a certificate; unix sockets stay plain HTTP: they
 * are local, reached through a proxy on the same machine, where TLS only costs CPU.
 */
export function createServer(settings: WorkerSettings, handle: RawHandle): Server {
  const { headersTimeoutMs, requestTimeoutMs, maxHeaderSize, tls } = settings;
  const options: http.ServerOptions = {
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    maxHeaderSize,
    connectionsCheckingInterval: connectionsCheckingInterval(headersTimeoutMs, requestTimeoutMs),
  };
  if (tls === null || handleKind(handle) !== 'tcp') return nodeHttp.createServer(options);
  // The HTTP limits start only after the handshake: a client stalling in it is held by
  // handshakeTimeout (Node's default 120 s), which takes the headers limit too.
  const handshakeTimeout = headersTimeoutMs > 0 ? headersTimeoutMs : 120_000;
  return loadHttps().createServer({ ...options, cert: tls.cert, key: tls.key, handshakeTimeout });
}

/**
 * Only the HTTP parser's complaints get an HTTP answer. Resets, and TLS failures (a handshake
 * timeout, plain HTTP sent to the HTTPS port), end the connection: text written to a TLS socket
 * before its handshake would wait for one forever and pin the connection. As Node itself does,
 * answer only on a connection that has not sent anything yet: a status line after (or inside) an
 * earlier response would be read as garbage.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
  const code = err.code ?? '';
  const parserError = code.startsWith('HPE_') || code.startsWith('ERR_HTTP_');
  if (!parserError || !socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  const status = CLIENT_ERROR_REPLIES[code] ?? '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
}

/**
 * For a drain: from now on every response this worker sends closes its connection
 * (`Connection: close`), those already in flight included, so each client takes its next
 * request elsewhere. The worker is leaving, so this is for all its servers (an app's own ones
 * too) and never undone. Node decides when it writes a response's head, from
 * `res.shouldKeepAlive`; the hook sets that just before. It is on the prototype (Express's
 * responses inherit from it too) so that no request pays for it before a drain: keeping a list of
 * the responses in flight to mark them cost every request a Set entry. Returns false where Node
 * has no `_storeHeader` to hook; then responses already in flight keep their connection open
 * until it idles out (--keep-alive-timeout) or carries one more request, answered with close.
 */
export function closeConnectionsAfterResponses(): boolean {
  type StoreHeader = (this: http.ServerResponse, ...args: unknown[]) => unknown;
  const proto = nodeHttp.ServerResponse.prototype as unknown as { _storeHeader?: StoreHeader };
  const store = proto._storeHeader;
  if (typeof store !== 'function') return false;
  if (Object.hasOwn(proto, '_storeHeader')) return true;
  proto._storeHeader = function (this: http.ServerResponse, ...args: unknown[]): unknown {
    this.shouldKeepAlive = false;
    return store.apply(this, args);
  };
  return true;
}
