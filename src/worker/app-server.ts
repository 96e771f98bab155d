import type net from 'node:net';
import { type RawHandle, handleKind } from '../shared/internals.js';

/**
 * Drop-in mode's small decisions about the app's own server (HttpServers#adopt() acts on them):
 * which of prefork's sockets it listens on itself, what its address() says, and noticing the app
 * closing it.
 */

/**
 * The handle the app's server listens on itself, so that its address() has the shape the app
 * expects: the first of the kind it asked for (a port: TCP, a path: unix), else the first.
 * Apps print `http://localhost:${address().port}`: with a unix socket first and a TCP one after,
 * that is the TCP one.
 */
export function ownHandleIndex(handles: readonly RawHandle[], wantsPipe: boolean): number {
  const index = handles.findIndex((h) => (handleKind(h) === 'pipe') === wantsPipe);
  return index < 0 ? 0 : index;
}

/**
 * What server.address() says for a unix bind (its URL as the master names it), as Node says it
 * after listen(path): the path, or "\0name" for an abstract name (prefork writes it "@name").
 */
export function pipeAddress(url: string | undefined): string | null {
  if (url === undefined || !url.startsWith('unix:')) return null;
  const path = url.slice('unix:'.length);
  return path.startsWith('@') ? `\0${path.slice(1)}` : path;
}

/**
 * Calls `closing` when the app calls close() on its listening server, before Node closes it.
 * An own property, so only this server's close() is seen; prefork's drain closes it through
 * net.Server.prototype.close, unseen.
 */
export function onAppClose(server: net.Server, closing: (server: net.Server) => void): void {
  const close = server.close;
  Object.defineProperty(server, 'close', {
    configurable: true,
    writable: true,
    value: function (this: net.Server, ...args: unknown[]): net.Server {
      closing(this);
      return close.apply(this, args as never);
    },
  });
}

/** Every 'request' listener of `server` is one of the app's: the same app on another server. */
export function sameHandlers(server: net.Server, appListeners: readonly unknown[]): boolean {
  const listeners = server.listeners('request');
  return listeners.length > 0 && listeners.every((l) => appListeners.includes(l));
}
