import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { appLoadError } from './exit-codes.js';
import { fs } from './builtins.js';

const { existsSync, statSync } = fs;

/**
 * Where an APP spec points, as a worker will load it: the master resolves it too (a missing app
 * fails before anything is bound; --reload watches its directory), and the master never imports
 * the worker's folder.
 */

/** "path/to/module.js:export" -> path and export name; a Windows-free world has no drive letters. */
export function parseAppSpec(spec: string): { path: string; exportName: string | null } {
  const colon = spec.lastIndexOf(':');
  if (colon > 0 && /^[A-Za-z_$][\w$]*$/.test(spec.slice(colon + 1))) {
    return { path: spec.slice(0, colon), exportName: spec.slice(colon + 1) };
  }
  return { path: spec, exportName: null };
}

/** Resolves like `node path` does, plus .mjs/.cjs, so `prefork app` finds app.mjs. */
export function resolveAppPath(spec: string, cwd: string): string {
  const { path } = parseAppSpec(spec);
  const absolute = resolve(cwd, path);
  const require = createRequire(resolve(cwd, 'noop.js'));
  try {
    return require.resolve(absolute);
  } catch {
    for (const ext of ['.mjs', '.cjs']) if (existsSync(absolute + ext)) return absolute + ext;
  }
  if (existsSync(absolute) && statSync(absolute).isDirectory()) {
    throw appLoadError(`cannot load app ${spec}: ${absolute} is a directory without an index.js or package.json main`);
  }
  throw appLoadError(`cannot load app ${spec}: ${absolute} not found`);
}
