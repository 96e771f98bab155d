import { type Listener, removeSocketFile, stopListening } from '../master/listeners.js';
import type { Logger } from '../shared/log.js';
import { Master } from '../master/master.js';
import type { Config } from '../config/options.js';
import type { Pidfile } from '../master/pidfile.js';
import { loadTls } from '../config/tls.js';
import type { SystemdNotifier } from '../master/systemd.js';
import type { Upgrader } from '../upgrade/upgrade.js';
import type { Late } from './cleanup.js';
import type { Start } from './start.js';
import type { Sockets } from './sockets.js';
import { WORKER_ENTRY, workerSettings } from './worker-settings.js';
import { clusterSpawn } from '../master/fork.js';

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

/** What the master is built from: the results of the steps before it. */
export interface MasterParts {
  config: Config;
  log: Logger;
  start: Start;
  sockets: Sockets;
  pidfile: Pidfile | null;
  notifier: SystemdNotifier | null;
  upgrader: Upgrader;
  /** Where the master goes once built: the upgrader and the take-over reach it there. */
  master: Late<Master>;
  reloadConfig: () => Promise<Config>;
  hooks: MasterHooks;
}

/** Step 7: the master loop, wired to what the steps before it opened. It forks nothing yet. */
export function createMaster(parts: MasterParts): Master {
  const { config, log, start, sockets, notifier, hooks } = parts;
  const { listeners } = sockets;
  const { successor } = start;
  return parts.master.set(
    new Master({
      config,
      slots: sockets.slots,
      log,
      settingsFor: (c) => workerSettings(c, start.cwd, listeners, start.tls, start.privileges.worker),
      reloadConfig: async () => {
        const next = await parts.reloadConfig();
        // The paths are restart-only (the master logs a change as ignored), but their contents
        // are read again: a renewed certificate goes live with a SIGHUP. A bad one aborts the reload.
        if (start.tls !== null) start.tls = loadTls(config, start.cwd);
        return next;
      },
      spawn: clusterSpawn({ workerEntry: WORKER_ENTRY, cwd: start.cwd }),
      notifier,
      upgrade: hooks.embedded === true ? embeddedUpgrade(log) : parts.upgrader,
      onReady: (addresses) => {
        if (successor !== null) successor.ready(() => takeOver(parts));
        hooks.ready?.(addresses);
      },
      // A new master's workers may serve beside the old master's: never cut them.
      fatalStop: successor === null ? 'immediate' : 'graceful',
      // The files stay while the old master of a hot upgrade we never took over from serves them.
      // Inside another program (serve()) an fd:// bind is that program's own descriptor: its to close.
      stopListening: () => {
        const ours = hooks.embedded === true ? listeners.filter((l) => l.bind.kind !== 'fd') : listeners;
        stopListening(ours, log, (l: Listener) => l.inherited === true && successor?.live !== true);
        sockets.slots.closeAll();
      },
    }),
  );
}

/** New master: the old one handed over: the pidfile, the chain's dropped files, and systemd are ours. */
async function takeOver({ pidfile, sockets, notifier, log, master }: MasterParts): Promise<void> {
  await pidfile?.takeOver();
  for (const owned of sockets.dropped) removeSocketFile(owned, log);
  notifier?.mute(false);
  await notifier?.ready(master.get().status());
}

/** USR2 under serve(): refused with a line saying why, as the upgrader refuses it as PID 1. */
function embeddedUpgrade(log: Logger): { start(): void; abort(): void } {
  return {
    start: () => {
      const why =
        'prefork runs inside another program (serve()): a hot upgrade would start that program again; ' +
        'use reload() (or HUP) for new app code';
      log.warn({ event: 'upgrade-refused', reason: why }, `SIGUSR2 refused: ${why}`);
    },
    abort: () => {},
  };
}
