/**
 * Limits shared by the options table, the control socket, its client and the master: each is
 * defined here once, so the checks and the messages that name them cannot drift apart.
 */

/**
 * The most workers one master runs (--workers, WEB_CONCURRENCY, `prefork scale`, TTIN), and so
 * the most replacements at once (--reload-batch). Far above any sane pool: it catches typos
 * (`-w 80000`), not tuning.
 */
export const MAX_WORKERS = 1024;

/** How an error names the range, e.g. `invalid workers "0": expected ${WORKER_COUNT}`. */
export const WORKER_COUNT = `a whole number from 1 to ${MAX_WORKERS}`;

export const isWorkerCount = (n: unknown): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS;

/** The control socket's permissions: it can stop and scale the master, so only its owner may connect. */
export const CONTROL_SOCKET_MODE = 0o600;
