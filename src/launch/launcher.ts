import { ExitCode, type ExitCodeValue } from '../shared/exit-codes.js';
import type { Listener } from '../master/listeners.js';
import type { Logger } from '../shared/log.js';
import type { Master } from '../master/master.js';
import type { Config } from '../config/options.js';
import type { Upgrader } from '../upgrade/upgrade.js';
import { Cleanup, Late } from './cleanup.js';
import { type MasterHooks, createMaster } from './master.js';
import { type Start, checkStart, lockPidfileFor } from './start.js';
import { createUpgrader, serveSideChannels, startNotifier } from './side-channels.js';
import { openSockets, settleSockets } from './sockets.js';

export { operatorCwd } from './start.js';
export { workerSettings } from './worker-settings.js';
export type { MasterHooks } from './master.js';

/**
 * The master's whole life, as named steps (src/launch/): check everything that can be checked
 * (nothing created on bad input), lock the pidfile, open the sockets (or take them over from the
 * old master of a hot upgrade), start the side channels, run the workers until the master stops,
 * and close what was opened in reverse order, also when a step fails part-way. Resolves with the
 * process exit code.
 */
export async function runMaster(
  config: Config,
  log: Logger,
  reloadConfig: () => Promise<Config> = async () => config,
  hooks: MasterHooks = {},
): Promise<ExitCodeValue> {
  const start = checkStart(config, log);
  const cleanup = new Cleanup();
  const master = new Late<Master>('the master');
  const upgrader = new Late<Upgrader>('the upgrader');
  let code: ExitCodeValue | null = null;
  try {
    const pidfile = await lockPidfileFor(config, log, start, cleanup);
    const sockets = await openSockets(config, log, start, cleanup, (l) => keepSocketFile(l, start, upgrader));
    if (start.successor === null) pidfile?.publish();
    settleSockets(sockets, start, log);
    const notifier = startNotifier(start, log, cleanup);
    upgrader.set(createUpgrader(log, start, sockets, pidfile, notifier, master, cleanup));
    const parts = { config, log, start, sockets, pidfile, notifier, master, reloadConfig, hooks };
    createMaster({ ...parts, upgrader: upgrader.get() });
    await serveSideChannels(master.get(), config, start, sockets, log, cleanup);
    code = ExitCode.unexpected;
    code = await run(master.get(), hooks);
  } finally {
    await cleanup.run();
    if (code !== null) logStopped(log, code, upgrader.maybe?.handedOver === true);
  }
  return code;
}

/** Step 9: fork the workers and serve until the master stops. */
async function run(master: Master, hooks: MasterHooks): Promise<ExitCodeValue> {
  const stopped = master.run();
  hooks.started?.(master);
  return stopped;
}

/**
 * Files the chain of masters created stay while another master serves them: after a hand-over,
 * or when we never took over from the old master (a failed upgrade, or a start that failed).
 */
function keepSocketFile(l: Listener, start: Start, upgrader: Late<Upgrader>): boolean {
  return upgrader.maybe?.handedOver === true || (l.inherited === true && start.successor?.live !== true);
}

function logStopped(log: Logger, code: ExitCodeValue, handedOver: boolean): void {
  const how = handedOver ? ': handed over to the new master' : '';
  log.info({ event: 'stopped', code, handedOver }, `stopped (exit ${code})${how}`);
}
