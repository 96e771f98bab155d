/**
 * `require('prefork')`: the CommonJS entry. Node before 22.12 (20.16 among them) cannot require()
 * an ES module, so a CommonJS config file or app gets this: defineConfig at once (it only gives
 * types), serve() through an import() of the ES module entry.
 */
import type { ConfigExport, ServeOptions, Served } from './serve.js';
import type { DefineConfig } from './serve.js';

export const defineConfig: DefineConfig = <T,>(config: T): T => config;

/** As the ES module's serve(), once that module loaded: `await` its ready and stopped as usual. */
export async function serve(options: ServeOptions): Promise<Served> {
  const { serve: start } = await import('./index.js');
  return start(options);
}

export type { ConfigExport, ServeOptions, Served };
