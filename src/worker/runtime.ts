/**
 * What the worker entry (main.ts) loads once its signal handlers are in and its hello is on the
 * way: one import, so that the bundled worker (tools/bundle.ts) is a small entry plus one body
 * file, which Node's compile cache covers (the entry file itself is compiled before the cache is on).
 */
export { surviveMasterLoss } from '../shared/internals.js';
export { isMasterMessage } from '../shared/messages.js';
export { WorkerProcess } from './worker.js';
