import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { type Listener, openListeners, releaseListeners } from './listeners.js';
import type { Logger } from './log.js';
import { heartbeatInterval } from './health.js';
import { Master } from './master.js';
import type { WorkerSettings } from './messages.js';
import type { Config } from './options.js';
import { lockPidfile } from './pidfile.js';
import { type WorkerIdentity, chownSockets, resolvePrivileges } from './privileges.js';
import { resolveAppPath } from '../workers/app-loader.js';

const WORKER_ENTRY = fileURLToPath(new URL('../workers/main.js', import.meta.url));

/**
 * The directory the operator started us in, by the name they used: with `current -> releases/42`
 * $PWD says .../current while process.cwd() says .../releases/42, and a reload must follow the
 * symlink to the new release.
 */
export function operatorCwd(env: NodeJS.ProcessEnv = process.env): string {
  const physical = process.cwd();
  const logical = env.PWD;
  if (logical === undefined) return physical;
  try {
    return realpathSync(logical) === physical ? logical : physical;
  } catch {
    return physical;
  }
}

export function workerSettings(config: Config, cwd: string, listeners: readonly Listener[], user: WorkerIdentity | null = null): WorkerSettings {
  return {
    app: config.app ?? '',
    cwd,
    factory: config.factory,
    keepAliveTimeout: config.keepAliveTimeout,
    gracefulTimeout: config.gracefulTimeout,
    backlog: config.backlog,
    accessLog: config.accessLog,
    logLevel: config.logLevel,
    logFormat: config.logFormat,
    name: config.name,
    urls: listeners.map((l) => l.url),
    maxRequests: config.maxRequests,
    limitConcurrency: config.limitConcurrency,
    heartbeatMs: heartbeatInterval(config.timeout, config.maxMemory),
    user,
  };
}

/**
 * The master's whole life: bind everything once, run the workers, and on the way out remove
 * the socket files it created. Resolves with the process exit code.
 */
export async function runMaster(config: Config, log: Logger, reloadConfig: () => Promise<Config> = async () => config): Promise<ExitCodeValue> {
  const cwd = operatorCwd();
  // A missing app file fails before anything is bound: bad input creates nothing.
  resolveAppPath(config.app ?? '', cwd);
  const privileges = resolvePrivileges(config);
  if (process.pid === 1) warnAboutPid1(log);
  // Locked before binding, so a second master refuses before it creates anything.
  const pidfile = config.pidfile === null ? null : await lockPidfile(resolve(cwd, config.pidfile), config.pidfile, log);
  let listeners: Listener[] = [];
  try {
    listeners = await openListeners(config.bind, { socketMode: config.socketMode, log });
    chownSockets(listeners, privileges.socketOwner, log);
    pidfile?.publish();
  } catch (err) {
    releaseListeners(listeners, log);
    await pidfile?.release();
    throw err;
  }
  for (const l of listeners) log.info({ event: 'listening', address: l.url }, `listening on ${l.url}`);
  const master = new Master({
    config,
    listeners,
    log,
    settingsFor: (c) => workerSettings(c, cwd, listeners, privileges.worker),
    reloadConfig,
    workerEntry: WORKER_ENTRY,
  });
  let code: ExitCodeValue = ExitCode.unexpected;
  try {
    code = await master.run();
  } finally {
    releaseListeners(listeners, log);
    await pidfile?.release();
    log.info({ event: 'stopped', code }, `stopped (exit ${code})`);
  }
  return code;
}

/**
 * As a container's entrypoint prefork is PID 1. Its signal handlers make TERM and INT work there
 * (the kernel drops signals PID 1 has no handler for), but Node cannot reap processes it did not
 * start: an orphan reparented to PID 1 stays a zombie. `docker run --init` or tini fixes that.
 */
function warnAboutPid1(log: Logger): void {
  log.warn(
    { event: 'pid1' },
    'running as PID 1: orphaned processes (an app\'s detached children) will not be reaped; run under an init such as `docker run --init` or tini',
  );
}
