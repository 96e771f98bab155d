import type { Stats } from 'node:fs';
import net, { isIP } from 'node:net';
import { dirname } from 'node:path';
import { type BindSpec, addressesOverlap, formatBind } from '../config/bind.js';
import { bindError, usageError } from '../shared/exit-codes.js';
import { notListening } from './fd-check.js';
import type { HandoverSocket } from '../upgrade/handover.js';
import { type RawHandle, bindPipe, bindTcp, handleKind, openFd, tcpAddress } from '../shared/internals.js';
import type { Logger } from '../shared/log.js';
import { fs, util } from '../shared/builtins.js';

const { existsSync, lstatSync, readFileSync, statSync, unlinkSync } = fs;
const { getSystemErrorName } = util;

/** One bound (not listening) socket held by the master for its whole life. */
export interface Listener {
  readonly bind: BindSpec;
  readonly handle: RawHandle;
  /** How logs and README show it: http://127.0.0.1:8000, unix:/run/app.sock. */
  readonly url: string;
  /** A socket file this master created: removed on stop only if the same file is still there. */
  readonly owned: { path: string; dev: number; ino: number } | null;
  /** Handed over by the old master of a hot upgrade (its file, if any, belongs to the chain). */
  readonly inherited?: boolean;
}

export interface ListenOptions {
  socketMode: number;
  log: Logger;
  /** TCP binds serve HTTPS (shown as https:// in logs); unix binds stay plain HTTP. */
  tls?: boolean;
  /** Hot upgrade: the socket the old master had for this bind, opened from its fd instead of binding. */
  inherited?: (bind: BindSpec) => HandoverSocket | null;
  /** Sockets this master opened before (the workers' binds, for --metrics-bind): a bind may not overlap them. */
  bound?: readonly Listener[];
}

/**
 * Two binds of one port on overlapping addresses (localhost:P and 127.0.0.1:P, 0.0.0.0:P and
 * 127.0.0.1:P) both succeed, as nothing listens yet; the workers would fail at listen(). Exit 3.
 */
function refuseOverlap(listener: Listener, before: readonly Listener[]): void {
  const mine = handleKind(listener.handle) === 'tcp' ? tcpAddress(listener.handle) : null;
  if (mine === null || mine.port === 0) return;
  for (const other of before) {
    const theirs = handleKind(other.handle) === 'tcp' ? tcpAddress(other.handle) : null;
    if (theirs === null || !addressesOverlap(mine, theirs)) continue;
    const shown = (l: Listener, a: { address: string; port: number }): string => {
      const given = formatBind(l.bind);
      const bound = a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
      return given === bound ? given : `${given} (${bound})`;
    };
    const why = 'the same port on a common address';
    throw bindError(
      `cannot bind ${shown(listener, mine)}: it overlaps ${shown(other, theirs)}, bound already (${why})`,
    );
  }
}

const errName = (errno: number): string => {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `errno ${errno}`;
  }
};

function describeBindFailure(what: string, errno: number): string {
  const name = errName(errno);
  if (name === 'EADDRINUSE') return `cannot bind ${what}: address already in use`;
  if (name === 'EACCES') return `cannot bind ${what}: permission denied`;
  if (name === 'EADDRNOTAVAIL') return `cannot bind ${what}: address not available on this machine`;
  return `cannot bind ${what}: ${name}`;
}

async function openTcp(bind: Extract<BindSpec, { kind: 'tcp' }>, scheme: string): Promise<Listener> {
  const what = formatBind(bind);
  let host: string | null = bind.host === '' ? null : bind.host;
  if (host !== null && isIP(host) === 0) {
    try {
      const { lookup } = await import('node:dns/promises');
      host = (await lookup(host)).address;
    } catch {
      throw bindError(`cannot bind ${what}: host "${bind.host}" does not resolve`);
    }
  }
  const handle = bindTcp(host, bind.port, host !== null && isIP(host) === 6 ? 6 : 4);
  if (typeof handle === 'number') throw bindError(describeBindFailure(what, handle));
  const addr = tcpAddress(handle);
  const shown =
    addr === null ? what : addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
  return { bind, handle, url: `${scheme}://${shown}`, owned: null };
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw bindError(`cannot bind unix:${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Resolves to true when a server answers on the path, false when nobody does (ECONNREFUSED). */
function somebodyListens(path: string): Promise<boolean | string> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    const done = (result: boolean | string): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1000, () => done(true));
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? false : (err.code ?? 'error')),
    );
  });
}

function kindOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return 'a symlink';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFile()) return 'a regular file';
  return 'not a socket';
}

/** A path that exists is probed: only a socket nobody answers on is stale and may go. */
async function clearStaleSocket(path: string, log: Logger): Promise<void> {
  const stats = lstatOrNull(path);
  if (stats === null) return;
  if (!stats.isSocket())
    throw bindError(`cannot bind unix:${path}: the path exists and is ${kindOf(stats)}; refusing to replace it`);
  const answer = await somebodyListens(path);
  if (answer === true) throw bindError(`cannot bind unix:${path}: another server is listening on it`);
  if (typeof answer === 'string')
    throw bindError(`cannot bind unix:${path}: cannot probe the existing socket (${answer})`);
  unlinkSync(path);
  log.info({ event: 'stale-socket-removed', path }, `removed stale socket ${path} (nobody was listening)`);
}

/** What a start refuses about a unix socket path without binding (--check-config checks it too). */
export function checkUnixPath(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) throw bindError(`cannot bind unix:${path}: directory ${dir} does not exist`);
  const stats = lstatOrNull(path);
  if (stats !== null && !stats.isSocket()) {
    throw bindError(`cannot bind unix:${path}: the path exists and is ${kindOf(stats)}; refusing to replace it`);
  }
}

/** fd://N must be a listening socket: see fd-check.ts for what else Node would accept. */
export function checkInheritedFd(fd: number): void {
  const what = notListening(fd);
  if (what !== null) throw bindError(`cannot use fd://${fd}: it is not a listening socket (${what})`);
}

async function openUnix(bind: Extract<BindSpec, { kind: 'unix' }>, opts: ListenOptions): Promise<Listener> {
  const { path } = bind;
  checkUnixPath(path);
  await clearStaleSocket(path, opts.log);
  // The umask makes the file's mode right from creation: a chmod after bind leaves a window
  // in which any local user can connect.
  const previous = process.umask(0o777 & ~opts.socketMode);
  let handle: RawHandle | number;
  try {
    handle = bindPipe(path);
  } finally {
    process.umask(previous);
  }
  if (typeof handle === 'number') throw bindError(describeBindFailure(`unix:${path}`, handle));
  const { dev, ino } = statSync(path);
  return { bind, handle, url: `unix:${path}`, owned: { path, dev, ino } };
}

/**
 * Node 20's libuv pads abstract names to the full 108 bytes, so no standard client (curl
 * --abstract-unix-socket, socat ABSTRACT-CONNECT) can reach the socket. /proc/net/unix shows
 * the name as bound, NUL padding as '@', which tells the two apart whatever the Node version.
 */
function abstractNameIsExact(name: string): boolean {
  let table: string;
  try {
    table = readFileSync('/proc/net/unix', 'utf8');
  } catch {
    return true;
  }
  return table.split('\n').some((line) => line.endsWith(` @${name}`));
}

function openAbstract(bind: Extract<BindSpec, { kind: 'abstract' }>): Listener {
  const what = formatBind(bind);
  const handle = bindPipe(`\0${bind.name}`);
  if (typeof handle === 'number') throw bindError(describeBindFailure(what, handle));
  if (!abstractNameIsExact(bind.name)) {
    handle.close();
    throw usageError(
      `cannot serve ${what} on Node ${process.version}: it pads abstract socket names to 108 bytes, so clients cannot reach the name; use Node 22 or newer, or a unix:PATH bind`,
    );
  }
  return { bind, handle, url: what, owned: null };
}

function openInheritedFd(bind: Extract<BindSpec, { kind: 'fd' }>, scheme: string): Listener {
  checkInheritedFd(bind.fd);
  const handle = openFd(bind.fd);
  if (typeof handle === 'number')
    throw bindError(`cannot use fd://${bind.fd}: it is not an open socket (${errName(handle)})`);
  return { bind, handle, url: fdUrl(bind, handle, scheme), owned: null };
}

function fdUrl(bind: Extract<BindSpec, { kind: 'fd' }>, handle: RawHandle, scheme: string): string {
  const addr = handleKind(handle) === 'tcp' ? tcpAddress(handle) : null;
  return addr === null
    ? formatBind(bind)
    : `${scheme}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port} (fd://${bind.fd})`;
}

/**
 * Hot upgrade: the old master's socket for this bind, from the descriptor we inherited. Opened
 * from an fd, a unix handle does not unlink its path on close: the file stays the chain's, and
 * releaseListeners() removes it by inode when the live master stops.
 */
function openHandedOver(bind: BindSpec, passed: HandoverSocket, scheme: string): Listener {
  const what = formatBind(bind);
  const handle = openFd(passed.fd);
  if (typeof handle === 'number')
    throw bindError(
      `cannot use ${what} handed over by the old master as fd ${passed.fd}: it is not an open socket (${errName(handle)})`,
    );
  let url: string;
  if (bind.kind === 'fd') url = fdUrl(bind, handle, scheme);
  else if (bind.kind === 'tcp') {
    const addr = tcpAddress(handle);
    url =
      addr === null
        ? `${scheme}://${what}`
        : `${scheme}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  } else url = what;
  return { bind, handle, url, owned: passed.owned, inherited: true };
}

function openOne(bind: BindSpec, opts: ListenOptions): Promise<Listener> | Listener {
  const scheme = opts.tls === true ? 'https' : 'http';
  const passed = opts.inherited?.(bind) ?? null;
  if (passed !== null) return openHandedOver(bind, passed, scheme);
  switch (bind.kind) {
    case 'tcp':
      return openTcp(bind, scheme);
    case 'unix':
      return openUnix(bind, opts);
    case 'abstract':
      return openAbstract(bind);
    case 'fd':
      return openInheritedFd(bind, scheme);
  }
}

/**
 * Binds every address once, before any worker exists, so a bind error fails fast. If one bind
 * fails, the sockets opened so far are released and their files removed: bad input leaves
 * nothing behind.
 */
export async function openListeners(binds: readonly BindSpec[], opts: ListenOptions): Promise<Listener[]> {
  const opened: Listener[] = [];
  try {
    for (const bind of binds) {
      opened.push(await openOne(bind, opts));
      refuseOverlap(opened.at(-1)!, [...(opts.bound ?? []), ...opened.slice(0, -1)]);
    }
  } catch (err) {
    releaseListeners(opened, opts.log);
    throw err;
  }
  return opened;
}

/**
 * Removes the socket files this master created, and only if the very file it created (same
 * device and inode, still a socket) is there: a file someone put in its place is not ours.
 * Path-bound handles are not closed: libuv would unlink whatever is at the path by then.
 * `keepFile` spares a file that is not ours to remove (yet): after a hot upgrade the new master
 * serves it.
 */
export function releaseListeners(
  listeners: readonly Listener[],
  log: Logger,
  keepFile: (l: Listener) => boolean = () => false,
): void {
  for (const listener of listeners) {
    if (stopped.has(listener)) continue;
    if (listener.owned === null || keepFile(listener)) {
      // An fd we were given stays open for whoever gave it; a path-bound one must not be closed (see above).
      if (listener.bind.kind !== 'fd' && (listener.owned === null || listener.inherited === true))
        listener.handle.close();
      continue;
    }
    if (listener.inherited === true) listener.handle.close();
    removeSocketFile(listener.owned, log);
  }
}

/** Removes a socket file if it is still the one with this device and inode. */
export function removeSocketFile(owned: { path: string; dev: number; ino: number }, log: Logger): void {
  if (fileIsOurs(owned, log) !== true) return;
  unlinkSync(owned.path);
  log.debug({ event: 'socket-removed', path: owned.path }, `removed ${owned.path}`);
}

/** True when the socket file at the path is still the one with this device and inode; null when it is gone. */
function fileIsOurs(owned: { path: string; dev: number; ino: number }, log: Logger): boolean | null {
  const { path, dev, ino } = owned;
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch {
    return null;
  }
  if (stats.isSocket() && stats.dev === dev && stats.ino === ino) return true;
  log.warn({ event: 'socket-not-ours', path }, `left ${path} in place: it is no longer the socket this master created`);
  return false;
}

/** Listeners stopListening() closed: releaseListeners() has nothing left to do for them. */
const stopped = new WeakSet<Listener>();

/**
 * A stop's drain begins: close the master's copy of every socket and remove the socket files
 * that are ours (as releaseListeners() would), so that once the draining workers closed theirs a
 * new connection is refused at once instead of waiting in a backlog nobody accepts from, to be
 * reset when the drain ends. A copy someone else holds (systemd's) keeps the socket listening:
 * theirs to decide. Not for a hot upgrade's hand-over: the new master serves these sockets.
 */
export function stopListening(
  listeners: readonly Listener[],
  log: Logger,
  keepFile: (l: Listener) => boolean = () => false,
): void {
  for (const listener of listeners) {
    if (stopped.has(listener)) continue;
    const { owned, handle } = listener;
    if (owned !== null && listener.inherited !== true) {
      // Bound by path here: libuv unlinks that path on close(), so close only while the file is
      // ours to remove. Without it (gone, or another in its place) nobody reaches our socket anyway.
      if (keepFile(listener)) continue;
      if (fileIsOurs(owned, log) === true) {
        handle.close();
        log.debug({ event: 'socket-removed', path: owned.path }, `removed ${owned.path}`);
      }
    } else {
      handle.close();
      if (owned !== null && !keepFile(listener)) removeSocketFile(owned, log);
    }
    stopped.add(listener);
  }
}
