/** The old path of status-snapshot.ts, kept until src/master.ts imports the new one; remove then. */
export * from './status-snapshot.js';
