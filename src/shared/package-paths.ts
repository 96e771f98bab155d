import { fileURLToPath } from 'node:url';

/**
 * Set by tools/bundle.ts when it builds dist/bin/: there every module's code sits in a file
 * directly under dist/bin/, not at its place under dist/src/, so paths relative to
 * import.meta.url differ.
 */
declare const PREFORK_BUNDLED: boolean | undefined;

const bundled = typeof PREFORK_BUNDLED === 'boolean' && PREFORK_BUNDLED;

/** The package's root directory (where package.json is), with a trailing slash. */
export const PACKAGE_ROOT = fileURLToPath(new URL(bundled ? '../../' : '../../../', import.meta.url));

/**
 * The worker entry the master hands to cluster (a path, never a module it imports): the bundled
 * one under the bundled CLI, the compiled one under serve() and the unbundled CLI.
 */
export const WORKER_ENTRY = `${PACKAGE_ROOT}${bundled ? 'dist/bin/worker.js' : 'dist/src/worker/main.js'}`;
