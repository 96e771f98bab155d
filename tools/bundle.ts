import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Plugin, build } from 'esbuild';
import { PACKAGE_ROOT } from '../src/shared/package-paths.js';

/**
 * `npm run build`, after tsc: bundles the compiled CLI and worker into dist/bin/, the files
 * `prefork` (package.json "bin") and its workers run. Cold start and every worker (re)start
 * spend less on loading: one file per part instead of ~70 modules (measured on Node 20:
 * importing the worker's modules took 21 ms unbundled, 7 ms bundled). Nothing is minified:
 * stack traces keep their names. The compiled modules under dist/src/ stay what serve() and
 * `prefork/worker` load, and dist/src/cli.js still runs, unbundled.
 *
 * Each process loads two files: a small entry (signal handlers first, then Node's compile cache
 * on), then its body. The cache covers only what is compiled after it is on, so a one-file CLI
 * would be compiled from scratch at every start on Node 22 and 24.
 */
const root = PACKAGE_ROOT;
const out = join(root, 'dist/bin');

/** The entries' one import of their body, resolved to the body's own bundle. */
const BODIES: Record<string, string> = {
  [join(root, 'dist/src/cli/main.js')]: './prefork-main.js',
  [join(root, 'dist/src/worker/runtime.js')]: './worker-runtime.js',
};
const ENTRIES = new Set([join(root, 'dist/src/cli.js'), join(root, 'dist/src/worker/main.js')]);

const bodiesApart: Plugin = {
  name: 'bodies-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (!ENTRIES.has(args.importer)) return undefined;
      const body = BODIES[join(args.resolveDir, args.path)];
      return body === undefined ? undefined : { path: body, external: true };
    });
  },
};

/**
 * Every `node:` builtin through process.getBuiltinModule, when the module that imports it first
 * runs: an ESM import of a builtin builds its whole export list (running lazy getters that load
 * more), and bundled static imports would all run at start-up, also those of code that loads
 * only on demand (the load-error diagnosis, the control client). See src/shared/builtins.ts.
 */
const builtinsOnDemand: Plugin = {
  name: 'builtins-on-demand',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

rmSync(out, { recursive: true, force: true });
const pkg = (await import(join(root, 'package.json'), { with: { type: 'json' } })) as {
  default: { dependencies: Record<string, string> };
};
// No code splitting: esbuild's chunks would make a start load ~20 files again. What a body
// imports on demand is compiled with it but evaluated only on demand.
await build({
  entryPoints: {
    prefork: join(root, 'dist/src/cli.js'),
    'prefork-main': join(root, 'dist/src/cli/main.js'),
    worker: join(root, 'dist/src/worker/main.js'),
    'worker-runtime': join(root, 'dist/src/worker/runtime.js'),
  },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.16',
  external: Object.keys(pkg.default.dependencies),
  plugins: [bodiesApart, builtinsOnDemand],
  define: { PREFORK_BUNDLED: 'true' },
  logLevel: 'warning',
});
