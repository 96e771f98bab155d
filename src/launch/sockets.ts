import { resolve } from 'node:path';
import { type BindSpec, parseBind } from '../config/bind.js';
import { usageError } from '../shared/exit-codes.js';
import { type HandoverSocket, type OwnedFile, bindKey } from '../upgrade/handover.js';
import { CONTROL_SOCKET_MODE } from '../config/limits.js';
import { type Listener, openListeners, releaseListeners, stopListening } from '../master/listeners.js';
import { type BindSlot, SlotSockets } from '../master/slot-sockets.js';
import type { Logger } from '../shared/log.js';
import type { Config } from '../config/options.js';
import { chownSockets } from '../master/privileges.js';
import { takeActivatedSockets } from '../config/socket-activation.js';
import type { Cleanup } from './cleanup.js';
import type { Start } from './start.js';
import { fs } from '../shared/builtins.js';

const { closeSync } = fs;

/** Every socket the master holds. */
export interface Sockets {
  /** The workers' shared sockets, handed to every worker. */
  listeners: Listener[];
  /** Every worker's sockets: the shared ones and, for `{worker}` binds, each slot's own. */
  slots: SlotSockets;
  /** systemd's name for listeners[i] when systemd passed it (`#i` when unnamed), else null. */
  systemd: Array<string | null>;
  /** The master's own sockets, served by the master and never handed to workers. */
  control: Listener | null;
  metrics: Listener | null;
  /** Socket files of the chain no bind claims any more: removed once we take over. */
  dropped: OwnedFile[];
}

/**
 * Step 3: bind every address once (or, as a hot upgrade's new master, take each socket over from
 * the old one by role instead). Each group is released by the clean-up from the moment it is
 * open; `keepFile` says, at clean-up time, which socket files another master still serves.
 */
export async function openSockets(
  config: Config,
  log: Logger,
  start: Start,
  cleanup: Cleanup,
  keepFile: (l: Listener) => boolean,
): Promise<Sockets> {
  const inheritance = start.successor?.inheritance ?? null;
  const systemdSockets = takeActivatedSockets(process.env);
  // systemd passed its sockets to the first master of a chain; each new master gets them from the last.
  const activated =
    inheritance === null
      ? systemdSockets
      : inheritance.activated().map((s) => ({
          bind: parseBind(s.bind) as Extract<BindSpec, { kind: 'fd' }>,
          name: s.systemd,
        }));
  const binds = [...activated.map((a) => a.bind), ...config.bind];
  if (binds.length === 0) throw usageError('nothing to listen on: give --bind (or let systemd pass sockets)');
  const fromOldMaster = (role: string) =>
    inheritance === null ? undefined : (bind: BindSpec) => inheritance.take(role, bindKey(bind));
  const open = async (role: string, specs: BindSpec[], socketMode: number, bound?: Listener[]): Promise<Listener[]> => {
    const tls = role === 'listen' && start.tls !== null;
    const opened = await openListeners(specs, { socketMode, log, tls, inherited: fromOldMaster(role), bound });
    try {
      if (role === 'listen') chownSockets(opened, start.privileges.socketOwner, log);
    } catch (err) {
      releaseListeners(opened, log, keepFile);
      throw err;
    }
    cleanup.add(() => releaseListeners(opened, log, keepFile));
    return opened;
  };
  const shared = binds.flatMap((b) => (b.kind === 'per-worker' ? [] : [b]));
  const listeners = await open('listen', shared, config.socketMode);
  const openSlot = (specs: BindSpec[], bound: readonly Listener[]) =>
    open('listen', specs, config.socketMode, [...bound]);
  const slots = slotSockets(binds, listeners, log, start, openSlot, keepFile);
  // Every starting slot's, before any worker forks: a failure here fails the start (exit 3).
  await slots.bindUpTo(config.workers);
  const controlBind: BindSpec[] = config.control === null ? [] : [{ kind: 'unix', path: config.control }];
  const control = controlBind.length === 0 ? [] : await open('control', controlBind, CONTROL_SOCKET_MODE);
  const metrics =
    config.metricsBind === null ? [] : await open('metrics', [config.metricsBind], config.socketMode, listeners);
  return {
    listeners,
    slots,
    systemd: listeners.map((_, i) => (activated[i] ? (activated[i]!.name ?? `#${i}`) : null)),
    control: control[0] ?? null,
    metrics: metrics[0] ?? null,
    dropped: [],
  };
}

/** The workers' binds in order, each shared one with its listener; per-worker ones are bound by slot. */
function slotSockets(
  binds: ReadonlyArray<Config['bind'][number]>,
  shared: readonly Listener[],
  log: Logger,
  start: Start,
  open: (specs: BindSpec[], bound: readonly Listener[]) => Promise<Listener[]>,
  keepFile: (l: Listener) => boolean,
): SlotSockets {
  let i = 0;
  const layout = binds.map((b): BindSlot => (b.kind === 'per-worker' ? { perWorker: b } : { shared: shared[i++]! }));
  const close = (ls: readonly Listener[]): void => stopListening(ls, log, keepFile);
  return new SlotSockets({ layout, open, close, log, cwd: start.cwd });
}

/**
 * Step 4: close the old master's sockets our config no longer asks for (every socket is claimed
 * by now: a master-owned socket added later must be claimed before this point), then say where
 * we listen.
 */
export function settleSockets(sockets: Sockets, start: Start, log: Logger): void {
  const inheritance = start.successor?.inheritance ?? null;
  for (const s of inheritance?.unclaimed() ?? []) {
    closeSync(s.fd);
    if (s.owned !== null) sockets.dropped.push(s.owned);
    log.warn(
      { event: 'upgrade-socket-dropped', bind: s.bind, socketRole: s.role },
      `the old master's ${s.bind} (${s.role}) is not in this configuration: closed`,
    );
  }
  for (const [i, l] of sockets.listeners.entries()) {
    const name = sockets.systemd[i];
    const systemd = name !== null && name !== undefined ? `systemd socket ${name}` : undefined;
    const from = l.inherited === true ? ` (from master ${inheritance?.parent})` : '';
    log.info(
      { event: 'listening', address: l.url, systemd, inherited: l.inherited },
      `listening on ${l.url}${systemd ? ` (${systemd})` : ''}${from}`,
    );
  }
  for (const slot of sockets.slots.boundSlots()) sockets.slots.logListening(slot, inheritance?.parent);
  sockets.slots.announceLater();
}

/**
 * What a hot upgrade hands to the new master: every socket this master owns, each with its role;
 * the new master claims each with inheritance.take(role, bind) instead of binding.
 */
export function handoverSockets(sockets: Sockets): HandoverSocket[] {
  const entry = (l: Listener, role: string, systemd: string | null): HandoverSocket => ({
    role,
    fd: l.handle.fd,
    bind: bindKey(l.bind),
    // Absolute: the new master may run in another directory (the new release).
    owned: l.owned === null ? null : { ...l.owned, path: resolve(l.owned.path) },
    systemd,
  });
  return [
    ...sockets.listeners.map((l, i) => entry(l, 'listen', sockets.systemd[i] ?? null)),
    ...sockets.slots.all().map((l) => entry(l, 'listen', null)),
    ...(sockets.control ? [entry(sockets.control, 'control', null)] : []),
    ...(sockets.metrics ? [entry(sockets.metrics, 'metrics', null)] : []),
  ];
}
