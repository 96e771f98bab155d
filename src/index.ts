export { parseBind, formatBind, type BindSpec } from './bind.js';
export { ExitCode, PreforkError } from './exit-codes.js';
export type { Config } from './options.js';
export { resolveConfig } from './config.js';
export { runMaster } from './prefork.js';
export { createLogger } from './log.js';
