/** SlotSockets over fake sockets, for the unit tests: what it binds, closes and hands to each slot. */
import { pino } from 'pino';
import { type BindSpec, formatBind, parseBindOrTemplate } from '../../src/config/bind.js';
import type { Listener } from '../../src/master/listeners.js';
import { type BindSlot, SlotSockets } from '../../src/master/slot-sockets.js';
import type { RawHandle } from '../../src/shared/internals.js';

/** `refuse` makes the bind of those addresses fail as an address in use would. */
export function fakeSlotSockets(binds: string[], refuse: (bind: BindSpec) => boolean = () => false) {
  const opened: string[] = [];
  const closed: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const listener = (bind: BindSpec): Listener => ({
    bind,
    handle: {} as RawHandle,
    url: formatBind(bind),
    owned: null,
  });
  const layout = binds.map((raw): BindSlot => {
    const b = parseBindOrTemplate(raw);
    return b.kind === 'per-worker' ? { perWorker: b } : { shared: listener(b) };
  });
  const slots = new SlotSockets({
    layout,
    cwd: '/srv',
    log: pino(
      { level: 'info' },
      { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
    ),
    open: async (specs) => {
      await Promise.resolve();
      const bad = specs.find(refuse);
      if (bad !== undefined) throw new Error(`cannot bind ${formatBind(bad)}: address already in use`);
      opened.push(...specs.map((s) => formatBind(s)));
      return specs.map(listener);
    },
    close: (ls) => void closed.push(...ls.map((l) => l.url)),
  });
  return { slots, opened, closed, logs };
}
