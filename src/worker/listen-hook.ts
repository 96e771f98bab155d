import net from 'node:net';

/**
 * The one place prefork patches Node's public API: net.Server.prototype.listen, in a worker only.
 *
 * Why: apps written for `node server.js` call listen() themselves (`app.listen(3000)`,
 * `fastify.listen({ port })`, `http.createServer(h).listen()`). In a cluster worker that call
 * asks the master to bind port 3000 for it, which prefork refuses (the master binds only what the
 * operator configured). With this hook, a listen() on a port or a path is handed to drop-in.ts,
 * which serves that server on the master's sockets instead. Every http/https/tls/net server
 * inherits this method, so one patch sees them all. A listen() on a handle or a descriptor
 * (prefork's own, or the app's explicit choice) and one already listening go to Node unchanged.
 */

/** One listen() the app made on a port or a path. */
export interface ListenCall {
  readonly server: net.Server;
  /** What it asked for, for logs: "port 3000", "port 3000 on 0.0.0.0", "path /tmp/app.sock". */
  readonly target: string;
  /** `listen({ port, exclusive: true })`: the app wants this socket for itself. */
  readonly exclusive: boolean;
  /** It asked for a path (a unix socket), not a port. */
  readonly pipe: boolean;
  /** Runs Node's own listen() with the app's arguments: the app binds the socket itself. */
  bindItself(): net.Server;
}

/** 'taken': the hook owns the call (its callback waits for 'listening'); 'pass': Node handles it. */
export type ListenDecision = 'taken' | 'pass';

const asNumber = (x: unknown): number | false => {
  const n = Number(x);
  return n >= 0 ? n : false;
};
const isPipeName = (s: unknown): s is string => typeof s === 'string' && asNumber(s) === false;

/** Node's own reading of listen()'s arguments (lib/net.js normalizeArgs), reduced to what we decide on. */
function classify(args: readonly unknown[]): { target: string; exclusive: boolean; pipe: boolean } | null {
  const [first] = args;
  if (typeof first === 'object' && first !== null) {
    const o = first as Record<string, unknown>;
    if (o._handle !== undefined || o.handle !== undefined || typeof o.fd === 'number') return null;
    if (isPipeName(o.path)) return { target: `path ${o.path}`, exclusive: o.exclusive === true, pipe: true };
    const port = o.port ?? 0;
    const host = typeof o.host === 'string' ? ` on ${o.host}` : '';
    return {
      target: Number(port) === 0 ? `a random port${host}` : `port ${String(port)}${host}`,
      exclusive: o.exclusive === true,
      pipe: false,
    };
  }
  if (isPipeName(first)) return { target: `path ${first}`, exclusive: false, pipe: true };
  const port = typeof first === 'function' || first === undefined || first === null ? 0 : first;
  const host = typeof args[1] === 'string' ? ` on ${args[1]}` : '';
  const target = Number(port) === 0 ? `a random port${host}` : `port ${String(port)}${host}`;
  return { target, exclusive: false, pipe: false };
}

/** listen({ signal })'s signal, checked as Node checks it (before anything else happens). */
function abortSignalOf(options: unknown): AbortSignal | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  const { signal } = options as { signal?: unknown };
  if (signal === undefined) return undefined;
  if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
    throw Object.assign(
      new TypeError(`The "options.signal" property must be an instance of AbortSignal. Received ${String(signal)}`),
      { code: 'ERR_INVALID_ARG_TYPE' },
    );
  }
  return signal as AbortSignal;
}

/** Node's listen({ signal }) contract (lib/net.js addServerAbortSignalOption): an abort closes the server. */
function closeOnAbort(server: net.Server, signal: AbortSignal): void {
  const close = (): void => {
    server.close();
  };
  if (signal.aborted) {
    process.nextTick(close);
    return;
  }
  signal.addEventListener('abort', close, { once: true });
  server.once('close', () => signal.removeEventListener('abort', close));
}

let installed = false;

/** Installs the hook once per process; `decide` must not emit events synchronously (it may throw, as listen() does). */
export function hookListen(decide: (call: ListenCall) => ListenDecision): void {
  if (installed) throw new Error('listen hook installed twice');
  installed = true;
  const original = net.Server.prototype.listen;
  net.Server.prototype.listen = function listen(this: net.Server, ...args: unknown[]): net.Server {
    const kind = this.listening ? null : classify(args);
    if (kind === null) return original.apply(this, args as never);
    const signal = abortSignalOf(args[0]);
    const call: ListenCall = { server: this, ...kind, bindItself: () => original.apply(this, args as never) };
    if (decide(call) === 'pass') return call.bindItself();
    // As Node does: the callback is a 'listening' listener, and aborting the signal closes the server.
    const callback = args[args.length - 1];
    if (typeof callback === 'function') this.once('listening', callback as () => void);
    if (signal !== undefined) closeOnAbort(this, signal);
    return this;
  } as typeof original;
}

/**
 * A server whose listen() became a no-op reports where prefork serves it, so code that logs
 * `server.address().port` (Fastify does in its listen()) sees the real address.
 */
export function reportAddress(server: net.Server, address: net.AddressInfo | string): void {
  Object.defineProperty(server, 'address', { value: () => address, configurable: true, writable: true });
}
