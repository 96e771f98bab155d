/**
 * `require('prefork')`: the CommonJS entry. Node before 22.12 (20.16 among them) cannot require()
 * an ES module, so a CommonJS config file or app gets this: defineConfig at once (it only gives
 * types), serve() through an import() of the ES module entry.
 */
import type { ConfigExport, ServeOptions, Served } from './serve.js';
import type { DefineConfig } from './serve.js';

export const defineConfig: DefineConfig = <T,>(config: T): T => config;

/**
 * The ES module's serve(), the same Served at once: each member waits for that module to load.
 * (An async function could not return it: a Served is a thenable, which `await` would unwrap.)
 */
export function serve(options: ServeOptions): Served {
  // Boxed, so that the promise does not adopt the Served (a thenable) as its value.
  const loaded = import('./index.js').then((m) => ({ served: m.serve(options) }));
  const stopped = loaded.then(({ served }) => served.stopped);
  return {
    ready: loaded.then(({ served }) => served.ready),
    stopped,
    stop: (mode) => loaded.then(({ served }) => served.stop(mode)),
    reload: () => loaded.then(({ served }) => served.reload()),
    then: (onFulfilled, onRejected) => stopped.then(onFulfilled, onRejected),
  };
}

export type { ConfigExport, ServeOptions, Served };
