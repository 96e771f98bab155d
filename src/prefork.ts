import { closeSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, type ExitCodeValue, usageError } from './exit-codes.js';
import { type BindSpec, parseBind } from './bind.js';
import { type HandoverSocket, type OwnedFile, Inheritance, bindKey } from './handover.js';
import { type Listener, openListeners, releaseListeners, removeSocketFile, stopListening } from './listeners.js';
import { type Logger, giveLogFileTo } from './log.js';
import { heartbeatInterval } from './health.js';
import { Master } from './master.js';
import { serveControl } from './control.js';
import type { WorkerSettings } from './messages.js';
import type { Config } from './options.js';
import { SystemdNotifier } from './systemd.js';
import { takeActivatedSockets } from './socket-activation.js';
import { type TlsMaterial, loadTls } from './tls.js';
import { lockPidfile } from './pidfile.js';
import { type WorkerIdentity, chownSockets, resolvePrivileges } from './privileges.js';
import { Successor, Upgrader } from './upgrade.js';
import { resolveApp } from './preflight.js';
import { watchForReload } from './reload-watcher.js';
import { CONTROL_SOCKET_MODE } from './limits.js';

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
    bootTimeout: config.bootTimeout,
    threads: config.threads,
    taskTimeoutMs: Math.round(config.taskTimeout * 1000),
  };
}

/** What the programmatic API (and --reload) need from a running master. */
export interface MasterHooks {
  /** The master is running: stop() and reload() may be called on it from now on. */
  started?: (master: Master) => void;
  /** Every initial worker serves. */
  ready?: (addresses: string[]) => void;
  /**
   * The master runs inside another program (serve()): a hot upgrade, which starts this process's
   * command line again, would start that program again. USR2 is refused there.
   */
  embedded?: boolean;
}

/**
 * The master's whole life: bind everything once (or, as a hot upgrade's new master, take the
 * sockets over from the old one), run the workers, and on the way out remove the socket files
 * it created — unless it handed them over to a new master. Resolves with the process exit code.
 */
export async function runMaster(config: Config, log: Logger, reloadConfig: () => Promise<Config> = async () => config, hooks: MasterHooks = {}): Promise<ExitCodeValue> {
  const cwd = operatorCwd();
  // Started by a hot upgrade: the old master's sockets, as inherited descriptors (else null).
  const inheritance = Inheritance.fromEnv(process.env);
  const successor = inheritance === null ? null : new Successor(inheritance, log);
  // A missing app file fails before anything is bound: bad input creates nothing.
  resolveApp(config.app ?? '', cwd);
  // Read while we still can (key files are often root-only) and before anything is bound.
  let tls = loadTls(config, cwd);
  const privileges = resolvePrivileges(config);
  if (privileges.worker !== null) giveLogFileTo(log, privileges.worker);
  if (process.pid === 1) warnAboutPid1(log);
  // Locked before binding, so a second master refuses before it creates anything. A new master
  // takes the lock over from its parent only when that one hands over.
  const parent = successor !== null && process.ppid === successor.parent ? successor.parent : null;
  const pidfile = config.pidfile === null ? null : await lockPidfile(resolve(cwd, config.pidfile), config.pidfile, log, process.pid, { parent });
  const systemdSockets = takeActivatedSockets(process.env);
  // systemd passed its sockets to the first master of a chain; each new master gets them from the last.
  const activated = inheritance === null ? systemdSockets : inheritance.activated().map((s) => ({ bind: parseBind(s.bind) as Extract<BindSpec, { kind: 'fd' }>, name: s.systemd }));
  const binds = [...activated.map((a) => a.bind), ...config.bind];
  let listeners: Listener[] = [];
  /** The master's own sockets (control, metrics): served by the master, never handed to workers. */
  let control: Listener | null = null;
  let metrics: Listener | null = null;
  const own = (): Listener[] => [control, metrics].filter((l): l is Listener => l !== null);
  /** Socket files of the chain no bind claims any more: removed once we take over. */
  const dropped: OwnedFile[] = [];
  /** A hot upgrade's new master takes each socket of the old one by role instead of binding. */
  const fromOldMaster = (role: string) => (inheritance === null ? undefined : (bind: BindSpec) => inheritance.take(role, bindKey(bind)));
  try {
    if (binds.length === 0) throw usageError('nothing to listen on: give --bind (or let systemd pass sockets)');
    listeners = await openListeners(binds, {
      socketMode: config.socketMode,
      log,
      tls: tls !== null,
      inherited: fromOldMaster('listen'),
    });
    chownSockets(listeners, privileges.socketOwner, log);
    if (config.control !== null) {
      control = (await openListeners([{ kind: 'unix', path: config.control }], { socketMode: CONTROL_SOCKET_MODE, log, inherited: fromOldMaster('control') }))[0] ?? null;
    }
    if (config.metricsBind !== null) {
      const metricsOptions = { socketMode: config.socketMode, log, inherited: fromOldMaster('metrics'), bound: listeners };
      metrics = (await openListeners([config.metricsBind], metricsOptions))[0] ?? null;
    }
    if (successor === null) pidfile?.publish();
  } catch (err) {
    releaseListeners([...listeners, ...own()], log, (l) => l.inherited === true);
    await pidfile?.release();
    throw err;
  }
  // Sockets the old master had that our config no longer asks for (every socket is claimed by
  // now; a master-owned socket added later must be claimed before this point).
  for (const s of inheritance?.unclaimed() ?? []) {
    closeSync(s.fd);
    if (s.owned !== null) dropped.push(s.owned);
    log.warn({ event: 'upgrade-socket-dropped', bind: s.bind, role: s.role }, `the old master's ${s.bind} (${s.role}) is not in this configuration: closed`);
  }
  for (const [i, l] of listeners.entries()) {
    const systemd = activated[i] ? `systemd socket ${activated[i]!.name ?? `#${i}`}` : undefined;
    const from = l.inherited === true ? ` (from master ${inheritance?.parent})` : '';
    log.info({ event: 'listening', address: l.url, systemd, inherited: l.inherited }, `listening on ${l.url}${systemd ? ` (${systemd})` : ''}${from}`);
  }
  /**
   * What a hot upgrade hands to the new master: every socket this master owns, each with its
   * role (the workers' listeners, the control socket, the metrics bind); the new master claims
   * each with inheritance.take(role, bind) instead of binding, before the unclaimed are closed.
   */
  const handoverSocket = (l: Listener, role: string, systemd: string | null): HandoverSocket => ({
    role,
    fd: l.handle.fd,
    bind: bindKey(l.bind),
    // Absolute: the new master may run in another directory (the new release).
    owned: l.owned === null ? null : { ...l.owned, path: resolve(l.owned.path) },
    systemd,
  });
  const handoverSockets = (): HandoverSocket[] => [
    ...listeners.map((l, i) => handoverSocket(l, 'listen', activated[i] ? (activated[i]!.name ?? `#${i}`) : null)),
    ...(control ? [handoverSocket(control, 'control', null)] : []),
    ...(metrics ? [handoverSocket(metrics, 'metrics', null)] : []),
  ];
  const notifier = SystemdNotifier.fromEnv(process.env, log);
  // Until a new master takes over, the old one speaks for the service.
  if (successor !== null) notifier?.mute();
  notifier?.startWatchdog(process.env);
  const upgrader = new Upgrader({
    log,
    cwd,
    sockets: handoverSockets,
    bootTimeout: () => master.config.bootTimeout,
    gracefulTimeout: () => master.config.gracefulTimeout,
    live: () => successor?.live ?? true,
    handOver: async (newPid) => {
      await pidfile?.handOver();
      notifier?.mute();
      master.handOver(newPid);
    },
  });
  /** New master: the old one handed over: the pidfile, the chain's dropped files, and systemd are ours. */
  const takeOver = async (): Promise<void> => {
    await pidfile?.takeOver();
    for (const owned of dropped) removeSocketFile(owned, log);
    notifier?.mute(false);
    await notifier?.ready(master.status());
  };
  const master: Master = new Master({
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
    upgrade: hooks.embedded === true ? embeddedUpgrade(log) : upgrader,
    onReady: (addresses) => {
      if (successor !== null) successor.ready(takeOver);
      hooks.ready?.(addresses);
    },
    // A new master's workers may serve beside the old master's: never cut them.
    fatalStop: successor === null ? 'immediate' : 'graceful',
    // The files stay while the old master of a hot upgrade we never took over from serves them.
    // Inside another program (serve()) an fd:// bind is that program's own descriptor: its to close.
    stopListening: () => {
      const ours = hooks.embedded === true ? listeners.filter((l) => l.bind.kind !== 'fd') : listeners;
      stopListening(ours, log, (l) => l.inherited === true && successor?.live !== true);
    },
  });
  if (control) {
    serveControl(control.handle, master, log);
    log.info({ event: 'control-listening', address: control.url }, `control socket on ${control.url}`);
  }
  if (metrics) {
    // Loaded only with --metrics-bind: node:http is the master's only use of it.
    const { serveMetrics } = await import('./metrics.js');
    serveMetrics(metrics.handle, () => ({ status: master.snapshot(), totals: master.stats.totals() }));
    log.info({ event: 'metrics-listening', address: `${metrics.url}/metrics` }, `metrics on ${metrics.url}/metrics`);
  }
  const watcher = config.reload ? watchForReload(config, cwd, listeners, () => void master.reload(), log) : null;
  let code: ExitCodeValue = ExitCode.unexpected;
  try {
    const stopped = master.run();
    hooks.started?.(master);
    code = await stopped;
  } finally {
    watcher?.close();
    await notifier?.close();
    // systemd must know the new MAINPID before we (its main process so far) exit.
    if (upgrader.handedOver) await upgrader.tookOver();
    // Files the chain created stay while another master serves them: after a hand-over, or when
    // we never took over from the old master (a failed upgrade).
    const notOurs = (l: Listener): boolean => upgrader.handedOver || (l.inherited === true && successor?.live !== true);
    releaseListeners([...listeners, ...own()], log, notOurs);
    await pidfile?.release();
    const how = upgrader.handedOver ? ': handed over to the new master' : '';
    log.info({ event: 'stopped', code, handedOver: upgrader.handedOver }, `stopped (exit ${code})${how}`);
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

/** USR2 under serve(): refused with a line saying why, as the upgrader refuses it as PID 1. */
function embeddedUpgrade(log: Logger): { start(): void; abort(): void } {
  return {
    start: () => {
      const why = 'prefork runs inside another program (serve()): a hot upgrade would start that program again; use reload() (or HUP) for new app code';
      log.warn({ event: 'upgrade-refused', reason: why }, `SIGUSR2 refused: ${why}`);
    },
    abort: () => {},
  };
}
