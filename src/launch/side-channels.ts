import type { Logger } from '../shared/log.js';
import type { Master } from '../master/master.js';
import type { Config } from '../config/options.js';
import type { Pidfile } from '../master/pidfile.js';
import { SystemdNotifier } from '../master/systemd.js';
import { Upgrader } from '../upgrade/upgrade.js';
import type { Cleanup, Late } from './cleanup.js';
import type { Start } from './start.js';
import { type Sockets, handoverSockets } from './sockets.js';

/** Step 5: systemd notifications (NOTIFY_SOCKET) and its watchdog; null without systemd. */
export function startNotifier(start: Start, log: Logger, cleanup: Cleanup): SystemdNotifier | null {
  const notifier = SystemdNotifier.fromEnv(process.env, log);
  if (notifier === null) return null;
  // Until a new master takes over, the old one speaks for the service.
  if (start.successor !== null) notifier.mute();
  notifier.startWatchdog(process.env);
  cleanup.add(() => notifier.close());
  return notifier;
}

/**
 * Step 6: the old master's side of a hot upgrade (SIGUSR2). It reaches the master, built after
 * it, through `master`; on the way out it waits for the new master's confirmation, because
 * systemd must know the new MAINPID before we (its main process so far) exit.
 */
export function createUpgrader(
  log: Logger,
  start: Start,
  sockets: Sockets,
  pidfile: Pidfile | null,
  notifier: SystemdNotifier | null,
  master: Late<Master>,
  cleanup: Cleanup,
): Upgrader {
  const upgrader = new Upgrader({
    log,
    cwd: start.cwd,
    sockets: () => handoverSockets(sockets),
    bootTimeout: () => master.get().config.bootTimeout,
    gracefulTimeout: () => master.get().config.gracefulTimeout,
    live: () => start.successor?.live ?? true,
    handOver: async (newPid) => {
      await pidfile?.handOver();
      notifier?.mute();
      master.get().handOver(newPid);
    },
  });
  cleanup.add(async () => {
    if (upgrader.handedOver) await upgrader.tookOver();
  });
  return upgrader;
}

/** Step 8: the --reload watcher, and what the master serves itself: the control socket and /metrics. */
export async function serveSideChannels(
  master: Master,
  config: Config,
  start: Start,
  sockets: Sockets,
  log: Logger,
  cleanup: Cleanup,
): Promise<void> {
  const { control, metrics } = sockets;
  // First: it can fail (the app file gone since the checks), and nothing may be served by then.
  // The watcher and the control socket load only when asked for: what a master never runs, it
  // does not parse or keep (docs/performance.md, "Master memory").
  if (config.reload) {
    const { watchForReload } = await import('../master/reload-watcher.js');
    const ours = [...sockets.listeners, ...sockets.slots.all()];
    const watcher = watchForReload(config, start.cwd, ours, () => void master.reload(), log);
    cleanup.add(() => watcher.close());
  }
  if (control) {
    const { serveControl } = await import('../master/control.js');
    serveControl(control.handle, master, log);
    log.info({ event: 'control-listening', address: control.url }, `control socket on ${control.url}`);
  }
  if (metrics) {
    // Loaded only with --metrics-bind: node:http is the master's only use of it.
    const { serveMetrics } = await import('../master/metrics-server.js');
    const serve = (): void => {
      const read = () => ({ status: master.snapshot(), totals: master.stats.totals() });
      serveMetrics(metrics.handle, read, () => master.probe());
      const at = `${metrics.url}/metrics`;
      log.info({ event: 'metrics-listening', address: at }, `metrics on ${at}, probes on /livez and /readyz`);
    };
    // Before the workers fork: a probe during start-up gets 503, not a refused connection. A hot
    // upgrade's new master shares the socket with the old one, which answers (ready) until it
    // hands over: a starting master must not answer 503 for a pool that serves.
    if (start.successor === null) serve();
    else start.successor.whenLive(serve);
  }
}
