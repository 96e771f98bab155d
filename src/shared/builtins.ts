/**
 * node:fs and node:util through process.getBuiltinModule rather than `import`: an ESM import of a
 * builtin reads every one of its exports, and their lazy getters load what prefork never uses
 * (fs's ReadStream/WriteStream classes, util's diff and more): about 2 ms each of every master's
 * and worker's start-up on Node 22 and 24, 0.6-1.4 ms on Node 20 (docs/performance.md, cold start).
 * node:http is taken the same way where it is used (worker/server-options.ts, master/metrics-server.ts).
 */
export const fs = process.getBuiltinModule('node:fs');
export const util = process.getBuiltinModule('node:util');
