import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, type ExitCodeValue, usageError } from './exit-codes.js';
import { type Listener, openListeners, releaseListeners } from './listeners.js';
import type { Logger } from './log.js';
import { heartbeatInterval } from './health.js';
import { Master } from './master.js';
import { serveControl } from './control.js';
import { serveMetrics } from './metrics.js';
import type { WorkerSettings } from './messages.js';
import type { Config } from './options.js';
import { SystemdNotifier, takeActivatedSockets } from './systemd.js';
import { type TlsMaterial, loadTls } from './tls.js';
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

export function workerSettings(config: Config, cwd: string, listeners: readonly Listener[], tls: TlsMaterial | null = null, user: WorkerIdentity | null = null): WorkerSettings {
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
    logFile: config.logFile,
    name: config.name,
    urls: listeners.map((l) => l.url),
    maxRequests: config.maxRequests,
    limitConcurrency: config.limitConcurrency,
    heartbeatMs: heartbeatInterval(config.timeout),
    shutdownDelay: config.shutdownDelay,
    headersTimeoutMs: Math.round(config.headersTimeout * 1000),
    requestTimeoutMs: Math.round(config.requestTimeout * 1000),
    maxHeaderSize: config.maxHeaderSize,
    tls,
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
  // Read while we still can (key files are often root-only) and before anything is bound.
  let tls = loadTls(config, cwd);
  const privileges = resolvePrivileges(config);
  if (process.pid === 1) warnAboutPid1(log);
  // Locked before binding, so a second master refuses before it creates anything.
  const pidfile = config.pidfile === null ? null : await lockPidfile(resolve(cwd, config.pidfile), config.pidfile, log);
  const activated = takeActivatedSockets(process.env);
  const binds = [...activated.map((a) => a.bind), ...config.bind];
  let listeners: Listener[] = [];
  /** The master's own sockets (control, metrics): served by the master, never handed to workers. */
  const own: Listener[] = [];
  try {
    if (binds.length === 0) throw usageError('nothing to listen on: give --bind (or let systemd pass sockets)');
    listeners = await openListeners(binds, { socketMode: config.socketMode, log, tls: tls !== null });
    chownSockets(listeners, privileges.socketOwner, log);
    if (config.control !== null) own.push(...(await openListeners([{ kind: 'unix', path: config.control }], { socketMode: 0o600, log })));
    if (config.metricsBind !== null) own.push(...(await openListeners([config.metricsBind], { socketMode: config.socketMode, log })));
    pidfile?.publish();
  } catch (err) {
    releaseListeners([...listeners, ...own], log);
    await pidfile?.release();
    throw err;
  }
  for (const [i, l] of listeners.entries()) {
    const systemd = activated[i] ? `systemd socket ${activated[i]!.name ?? `#${i}`}` : undefined;
    log.info({ event: 'listening', address: l.url, systemd }, `listening on ${l.url}${systemd ? ` (${systemd})` : ''}`);
  }
  const notifier = SystemdNotifier.fromEnv(process.env, log);
  notifier?.startWatchdog(process.env);
  const master = new Master({
    config,
    listeners,
    log,
    settingsFor: (c) => workerSettings(c, cwd, listeners, tls, privileges.worker),
    reloadConfig: async () => {
      const next = await reloadConfig();
      // The paths are restart-only (the master logs a change as ignored), but their contents
      // are read again: a renewed certificate goes live with a SIGHUP. A bad one aborts the reload.
      if (tls !== null) tls = loadTls(config, cwd);
      return next;
    },
    workerEntry: WORKER_ENTRY,
    notifier,
  });
  const control = own.find((l) => config.control !== null && l.bind.kind === 'unix' && l.bind.path === config.control);
  if (control) {
    serveControl(control.handle, master, log);
    log.info({ event: 'control-listening', address: control.url }, `control socket on ${control.url}`);
  }
  const metrics = own.find((l) => l !== control);
  if (metrics) {
    serveMetrics(metrics.handle, () => ({ status: master.snapshot(), totals: master.stats.totals() }));
    log.info({ event: 'metrics-listening', address: `${metrics.url}/metrics` }, `metrics on ${metrics.url}/metrics`);
  }
  let code: ExitCodeValue = ExitCode.unexpected;
  try {
    code = await master.run();
  } finally {
    await notifier?.close();
    releaseListeners([...listeners, ...own], log);
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
