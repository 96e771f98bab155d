/**
 * Every use of Node internals in prefork lives here, with its own tests (test/unit/internals),
 * so a Node upgrade that changes them breaks this file, loudly, and nothing else.
 *
 * Why internals at all: Node's public API cannot (a) bind a socket without also polling it for
 * connections in the same process (the master must hold the socket but never accept), (b) make
 * a cluster worker listen on a unix handle it received over IPC without asking the primary to
 * bind (plain listen(handle) routes the fd number to the primary), (c) keep a worker alive when
 * the master disappears so it can finish its requests, or (d) stop a worker from asking the
 * primary to bind an arbitrary address for it (cluster's queryServer).
 */
import type { Worker as ClusterWorker } from 'node:cluster';
import cluster from 'node:cluster';
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { util } from './builtins.js';

/** A libuv TCP or Pipe handle: what net.Server keeps in _handle and what IPC can carry. */
export interface RawHandle {
  readonly fd: number;
  getsockname?(out: Record<string, unknown>): number;
  close(callback?: () => void): void;
}

interface NetInternals {
  _createServerHandle(
    address: string | null,
    port: number | null,
    addressType: number | null,
    fd?: number,
    flags?: number,
  ): RawHandle | number;
}

const netInternals = net as unknown as NetInternals;

export type HandleKind = 'tcp' | 'pipe';

export function handleKind(handle: RawHandle): HandleKind {
  return handle.constructor.name === 'TCP' ? 'tcp' : 'pipe';
}

/** Binds (never listens) a TCP socket; returns a negative errno on failure. */
export function bindTcp(host: string | null, port: number, family: 4 | 6): RawHandle | number {
  const handle = netInternals._createServerHandle(host, port, family);
  if (typeof handle === 'number') return handle;
  // libuv defers EADDRINUSE from bind() to listen(); getsockname reports it now.
  const err = handle.getsockname?.({}) ?? 0;
  if (err !== 0) {
    handle.close();
    return err;
  }
  return handle;
}

/**
 * Binds (never listens) a unix socket at a path, or an abstract name given as "\0name".
 * Do not close() the returned handle to release a path: libuv unlinks the path on close
 * whatever file is there by then; listeners.ts removes our files itself, by inode.
 */
export function bindPipe(path: string): RawHandle | number {
  return netInternals._createServerHandle(path, -1, -1);
}

/** Wraps an inherited descriptor; EINVAL when it is not a socket. */
export function openFd(fd: number): RawHandle | number {
  return netInternals._createServerHandle(null, null, null, fd);
}

export function tcpAddress(handle: RawHandle): { address: string; port: number; family: string } | null {
  const out: Record<string, unknown> = {};
  if (handle.getsockname === undefined || handle.getsockname(out) !== 0) return null;
  return { address: String(out.address), port: Number(out.port), family: String(out.family) };
}

/**
 * Worker side: serve on a handle received from the master. TCP goes through the public
 * listen(handle), which is exclusive (never asks the primary). A Pipe handle would be routed to
 * the primary by its fd number, so we set it as the server's handle and start it directly.
 */
/** Node 20: the major whose V8 (11.3) remakes a spread copy's hidden class on every added property. */
const SHAPE_CHURN = process.versions.node.split('.')[0] === '20';

export function listenOnHandle(
  server: net.Server,
  handle: RawHandle,
  backlog: number,
  pipeName: string | null = null,
): void {
  // 'listening' comes on the next tick, before any connection can: the handle accepts by then.
  if (SHAPE_CHURN) server.once('listening', () => acceptWithStableShapes(server));
  if (handleKind(handle) === 'tcp') {
    server.listen(handle, backlog);
    return;
  }
  const s = server as unknown as {
    _handle: RawHandle | null;
    _pipeName?: string;
    _listen2(a: null, p: number, t: number, backlog: number): void;
  };
  s._handle = handle;
  // What server.address() reports for a pipe (a Pipe handle has no getsockname): apps that serve
  // themselves (drop-in mode) log it, Fastify among them.
  if (pipeName !== null) s._pipeName = pipeName;
  s._listen2(null, -1, -1, backlog);
}

/**
 * Worker side: by default a cluster worker exits the instant its IPC channel closes, cutting
 * in-flight requests when the master dies. Marking the exit as expected lets us drain instead.
 */
export function surviveMasterLoss(): void {
  if (cluster.worker) cluster.worker.exitedAfterDisconnect = true;
}

interface QueryServerMessage {
  cmd?: string;
  act?: string;
  seq?: number;
  address?: string | null;
  port?: number | null;
  addressType?: number | string | null;
  fd?: number | null;
}

export interface RefusedBind {
  address: string | null;
  port: number | null;
  addressType: number | string | null;
}

/**
 * Master side: node:cluster lets any worker ask the primary to bind an address for it. A worker
 * that dropped privileges could thereby get port 81 or a root-only path from a root master.
 * We answer every such request with EACCES; the worker's listen() emits 'error'.
 */
export function refuseBindsFor(worker: ClusterWorker, onRefused: (req: RefusedBind) => void): void {
  const proc = worker.process;
  const listeners = proc.listeners('internalMessage') as Array<(msg: unknown, handle: unknown) => void>;
  proc.removeAllListeners('internalMessage');
  proc.on('internalMessage', (msg: QueryServerMessage, handle: unknown) => {
    if (msg?.cmd === 'NODE_CLUSTER' && msg.act === 'queryServer') {
      if (proc.connected) {
        proc.send({ cmd: 'NODE_CLUSTER', ack: msg.seq, errno: -osConstants.errno.EACCES, key: null, data: null });
      }
      onRefused({ address: msg.address ?? null, port: msg.port ?? null, addressType: msg.addressType ?? null });
      return;
    }
    for (const listener of listeners) listener.call(proc, msg, handle);
  });
}

/**
 * Worker side, drop-in mode: a connection accepted on another of prefork's sockets and handed to
 * the app's server becomes that server's, as if it had accepted it: its close() callback and
 * 'close' event wait for it, and getConnections() counts it. Node counts a server's connections
 * in `_connections`, and a closing socket decrements the count of its `_server`.
 */
export function handOverConnection(socket: net.Socket, from: net.Server, to: net.Server): void {
  const s = socket as unknown as { _server: net.Server | null; server: net.Server | null };
  if (s._server !== from) return;
  (from as unknown as { _connections: number })._connections -= 1;
  (to as unknown as { _connections: number })._connections += 1;
  s._server = to;
  s.server = to;
}

/**
 * A server's open connections, as getConnections() counts them but synchronously: Node keeps
 * the count itself, so the worker needs no listener per connection to know it.
 */
export function openConnections(server: net.Server): number {
  return (server as unknown as { _connections: number })._connections;
}

/** A listening TCP or Pipe handle, as net.Server keeps it: Node calls onconnection for each accept. */
interface AcceptingHandle {
  onconnection: ((err: number, clientHandle: ClientHandle) => void) | null;
}

interface ClientHandle {
  setNoDelay?(enable: boolean): number;
  setKeepAlive?(enable: boolean, initialDelaySeconds: number): number;
  getsockname?(out: Record<string, unknown>): number;
  getpeername?(out: Record<string, unknown>): number;
  close(): void;
}

/** What net.Server keeps of its options (lib/net.js Server), read when a connection is accepted. */
interface ServerState {
  _handle: AcceptingHandle | null;
  _connections: number;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  /** In seconds. */
  keepAliveInitialDelay: number;
  highWaterMark: number;
  maxConnections: number;
}

/**
 * The server accepts connections as Node 20's own `onconnection` (lib/net.js) does,
 * with one difference: the options it gives net.Socket already hold the three that the Socket
 * constructor adds to its copy of them (`emitClose`, `autoDestroy`, `decodeStrings`, set to the
 * values it sets). On Node 20's V8 a property added to a spread copy (`{ ...options }`) makes a new
 * hidden class every time, so each accepted connection made three and then missed V8's property
 * caches about 28 times (`node --log-ic`); with the properties present the copy keeps one shape.
 * Measured: 29 % less server CPU per `Connection: close` request (docs/performance.md). Node 22
 * and later (V8 12) keep their own onconnection: listenOnHandle() installs this on Node 20 only.
 * Node 20 is at its end of life, so the net.js this follows no longer changes;
 * test/unit/accept-shapes.test.ts checks the copy against Node 20's own. Call after the server
 * listens (each listen() sets a new handle).
 */
export function acceptWithStableShapes(server: net.Server): void {
  const handle = (server as unknown as ServerState)._handle;
  if (handle === null || typeof handle.onconnection !== 'function') return;
  handle.onconnection = (err, clientHandle) => accept(server, err, clientHandle);
}

const serverSocketChannel = diagnosticsChannel.channel('net.server.socket');

/** Node 20.20's onconnection (lib/net.js), step for step, but for the Socket's options. */
function accept(server: net.Server, err: number, clientHandle: ClientHandle): void {
  const self = server as unknown as ServerState;
  if (err) {
    const code = util.getSystemErrorName(err);
    server.emit('error', Object.assign(new Error(`accept ${code}`), { errno: err, code, syscall: 'accept' }));
    return;
  }
  if (self.maxConnections && self._connections >= self.maxConnections) {
    drop(server, clientHandle);
    return;
  }
  const socket = new net.Socket({
    handle: clientHandle,
    allowHalfOpen: self.allowHalfOpen,
    pauseOnCreate: self.pauseOnConnect,
    readable: true,
    writable: true,
    readableHighWaterMark: self.highWaterMark,
    writableHighWaterMark: self.highWaterMark,
    emitClose: false,
    autoDestroy: true,
    decodeStrings: false,
  } as net.SocketConstructorOpts);
  // As Node does through the handle, with the flags the socket keeps of them.
  if (self.noDelay && clientHandle.setNoDelay) socket.setNoDelay(true);
  if (self.keepAlive && clientHandle.setKeepAlive) socket.setKeepAlive(true, self.keepAliveInitialDelay * 1000);
  self._connections += 1;
  const owned = socket as unknown as { server: net.Server; _server: net.Server };
  owned.server = server;
  owned._server = server;
  server.emit('connection', socket);
  if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
}

/** Over maxConnections: Node's 'drop' event, with the addresses when the handle can tell them. */
function drop(server: net.Server, clientHandle: ClientHandle): void {
  if (clientHandle.getsockname || clientHandle.getpeername) {
    const data: Record<string, unknown> = { __proto__: null };
    if (clientHandle.getsockname) addressInto(data, 'local', (out) => clientHandle.getsockname!(out));
    if (clientHandle.getpeername) addressInto(data, 'remote', (out) => clientHandle.getpeername!(out));
    server.emit('drop', data);
  } else {
    server.emit('drop');
  }
  clientHandle.close();
}

/** One side of a dropped connection's address, as Node names it ('local' → localAddress, localPort, localFamily). */
function addressInto(
  data: Record<string, unknown>,
  side: 'local' | 'remote',
  read: (out: Record<string, unknown>) => number,
): void {
  const info: Record<string, unknown> = { __proto__: null };
  read(info);
  data[`${side}Address`] = info.address;
  data[`${side}Port`] = info.port;
  data[`${side}Family`] = info.family;
}
