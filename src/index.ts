/**
 * `import { serve, defineConfig } from 'prefork'`: the programmatic API. The app-side API (for
 * code running in a worker) is `prefork/worker`.
 */
export { serve, defineConfig, type ServeOptions, type Served, type ConfigExport } from './serve.js';
export type { Config, ConfigInput } from './options.js';
export { parseBind, formatBind, type BindSpec } from './bind.js';
export { ExitCode, PreforkError, type ExitCodeValue } from './exit-codes.js';
export { resolveConfig } from './config.js';
export { runMaster } from './prefork.js';
export { createLogger } from './log.js';
