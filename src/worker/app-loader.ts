import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseAppSpec, resolveAppPath } from '../shared/app-path.js';
import { appLoadError } from '../shared/exit-codes.js';
import type { FetchApp } from './fetch-adapter.js';
import { errorSite } from './load-error.js';

export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** What a worker serves: every supported app shape comes down to this. */
/** A request listener as apps write them: what it returns matters when it is a promise (a rejection answers 500). */
export type AppListener = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface Servable {
  request: AppListener;
  upgrade: UpgradeListener | null;
}

/** What loading the app module gives the worker. */
export interface LoadedApp {
  /** null: the default export is nothing prefork serves; the app may still call listen() itself (drop-in mode). */
  servable: Servable | null;
  /** Why there is nothing to serve, for the boot failure if no listen() comes either. */
  unservable: string;
  /** The app's optional `shutdown()` export, awaited when the worker drains. */
  shutdown: (() => unknown) | null;
}

const SHAPES =
  'a request listener (req, res), an http.Server, an object with fetch(request), a Koa app, a Fastify instance';
const EXPECTED = `expected ${SHAPES}, or with --factory a function returning one`;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object with keys [${Object.keys(value).slice(0, 6).join(', ')}]`;
  return `a ${typeof value}`;
}

const isObjectLike = (v: unknown): v is Record<string, unknown> =>
  (typeof v === 'object' || typeof v === 'function') && v !== null;

function serverServable(server: net.Server): Servable {
  return {
    request: (req, res) => server.emit('request', req, res),
    upgrade: (req, socket, head) => {
      if (server.listenerCount('upgrade') > 0) server.emit('upgrade', req, socket, head);
      else socket.destroy();
    },
  };
}

/** Fastify: the instance, with its http.Server in `.server` and plugins loaded by `ready()`. */
const isFastify = (v: Record<string, unknown>): boolean =>
  typeof v.ready === 'function' && v.server instanceof net.Server && typeof v.route === 'function';

/** Turns an export into a Servable, or null when it has none of the supported shapes. */
async function asServable(spec: string, value: unknown): Promise<Servable | null> {
  if (value instanceof net.Server) return serverServable(value);
  if (!isObjectLike(value)) return null;
  if (isFastify(value)) {
    try {
      // Loads its plugins and routes; requests before that would meet a half-built app.
      await (value.ready as () => Promise<unknown>)();
    } catch (err) {
      throw appLoadError(`app ${spec}: Fastify's ready() failed: ${firstLine(err)}`);
    }
    return serverServable(value.server as net.Server);
  }
  if (typeof value.callback === 'function' && typeof value.use === 'function' && typeof value !== 'function') {
    return { request: (value.callback as () => RequestListener)(), upgrade: null };
  }
  if (typeof value.fetch === 'function' && typeof value !== 'function') {
    // Only fetch apps load the adapter: it reads Request and Response, which loads undici.
    const { fetchListener } = await import('./fetch-adapter.js');
    return { request: fetchListener(value as unknown as FetchApp), upgrade: null };
  }
  if (typeof value === 'function') return { request: value as RequestListener, upgrade: null };
  return null;
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

async function importModule(spec: string, file: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw appLoadError(`cannot load app ${spec}: ${firstLine(err)}`);
    }
    const { where, detail } = errorSite(err, file);
    const name = err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : '';
    const at = where === null ? '' : ` (at ${where})`;
    throw Object.assign(appLoadError(`app ${spec} threw while loading: ${name}${firstLine(err)}${at}`), { detail });
  }
}

function pickExport(spec: string, mod: Record<string, unknown>, exportName: string | null): unknown {
  if (exportName === null) return mod.default;
  if (exportName in mod) return mod[exportName];
  // CommonJS whose exports Node's lexer could not see statically are only on default.
  const fallback = mod.default;
  if (isObjectLike(fallback) && exportName in fallback) return fallback[exportName];
  throw appLoadError(`app ${spec} has no export "${exportName}"`);
}

/** `export async function shutdown()`, or a shutdown function on a CommonJS module.exports object. */
function shutdownHook(mod: Record<string, unknown>): (() => unknown) | null {
  if (typeof mod.shutdown === 'function') return mod.shutdown as () => unknown;
  const cjs = mod.default;
  if (isObjectLike(cjs) && !(cjs instanceof net.Server) && typeof cjs.shutdown === 'function')
    return (cjs.shutdown as () => unknown).bind(cjs);
  return null;
}

/**
 * Loads APP. A named export (APP:NAME) or a --factory must give something servable; the default
 * export may be anything, because the app may call listen() itself (drop-in mode). Every failure
 * is an exit-4 PreforkError.
 */
export async function loadApp(
  spec: string,
  cwd: string,
  factory: boolean,
  imported: () => void = () => {},
): Promise<LoadedApp> {
  const file = resolveAppPath(spec, cwd);
  const mod = await importModule(spec, file);
  imported();
  const { exportName } = parseAppSpec(spec);
  let value = pickExport(spec, mod, exportName);
  const shutdown = shutdownHook(mod);
  if (factory) {
    if (typeof value !== 'function')
      throw appLoadError(`app ${spec}: --factory needs a function export, got ${describe(value)}`);
    try {
      value = await (value as () => unknown)();
    } catch (err) {
      throw appLoadError(`app ${spec}: the factory threw: ${firstLine(err)}`);
    }
  }
  const servable = await asServable(spec, value);
  if (servable === null && (factory || exportName !== null)) {
    throw appLoadError(
      `app ${spec}: the ${factory ? "factory's result" : 'export'} is ${describe(value)}; ${EXPECTED}`,
    );
  }
  const unservable = value === undefined ? 'has no default export (or module.exports)' : `exports ${describe(value)}`;
  return { servable, unservable, shutdown };
}

/** The boot failure of an app that neither exports something servable nor calls listen(). */
export function nothingToServe(spec: string, unservable: string, bootTimeout: number): string {
  return `app ${spec} ${unservable} and called no listen() within --boot-timeout ${bootTimeout} s: export ${SHAPES}, or call listen() (drop-in mode)`;
}

/** The same, found early: the app has loaded and has nothing pending (timer, socket, I/O) that could call listen(). */
export function nothingPending(spec: string, unservable: string): string {
  return `app ${spec} ${unservable}, called no listen() and has nothing pending that could call it: export ${SHAPES}, or call listen() (drop-in mode); to serve what a function of it builds, name it (APP:NAME) and pass --factory`;
}
