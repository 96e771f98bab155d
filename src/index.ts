/**
 * `import { serve, defineConfig } from 'prefork'`: the programmatic API. The app-side API (for
 * code running in a worker) is `prefork/worker`.
 */
export { serve, defineConfig, type ServeOptions, type Served, type ConfigExport } from './serve.js';
export type { Config, ConfigInput } from './config/options.js';
export { parseBind, formatBind, type BindSpec } from './config/bind.js';
export { ExitCode, PreforkError, type ExitCodeValue } from './shared/exit-codes.js';
export { resolveConfig } from './config/config.js';
export { runMaster } from './launch/launcher.js';
export { createLogger } from './shared/log.js';
