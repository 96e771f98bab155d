import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, mock } from 'node:test';
import { pino } from 'pino';
import { resolveConfig } from '../../src/config/config.js';
import { HEALTH_CHECK_MS, Master, type MasterDeps } from '../../src/master/master.js';
import { SlotSockets } from '../../src/master/slot-sockets.js';
import type { MasterMessage, WorkerMessage, WorkerSettings } from '../../src/shared/messages.js';
import type { Config } from '../../src/config/options.js';
import type { MasterAction } from '../../src/master/signals.js';
import type { SystemdNotifier } from '../../src/master/systemd.js';
import type { WorkerEvents } from '../../src/master/worker-handle.js';

/**
 * The master loop driven by fake workers and fake timers: every interleaving of reloads, scaling,
 * stops and worker deaths, checked against the one invariant that matters: the pool ends with
 * one ready worker per slot, all of the newest generation, and systemd told READY=1.
 */

export interface Fake {
  slot: number;
  pid: number;
  events: WorkerEvents;
  sent: MasterMessage[];
  signals: NodeJS.Signals[];
  ready: boolean;
  /** It said it drains itself (at its --max-requests). */
  leaving: boolean;
  exited: boolean;
}

let base: Config;

/** Call once at the top of a test file: fake timers and clock in every test, the default config. */
export function useFakeMaster(): void {
  before(async () => {
    base = await resolveConfig({ argv: { app: 'app.js' }, env: {}, cwd: '/tmp', stdoutIsTTY: false });
  });
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());
  after(() => mock.timers.reset());
}

export class World {
  readonly fakes: Fake[] = [];
  readonly logs: Array<Record<string, unknown>> = [];
  /** The log lines as written, before JSON.parse folds a repeated key into one. */
  readonly lines: string[] = [];
  /** What systemd was told, in order. */
  readonly notes: string[] = [];
  readonly master: Master;
  actions!: Record<MasterAction, () => void>;
  next: Config;
  /** How the master's reloadConfig reads the config: `next`, at once, unless a test says otherwise. */
  read: () => Promise<Config> = async () => this.next;
  code: number | null = null;
  #pid = 100;

  constructor(overrides: Partial<Config> = {}, deps: Partial<MasterDeps> = {}) {
    const config = Object.freeze({ ...base, workers: 2, ...overrides }) as Config;
    this.next = config;
    const sink = {
      write: (line: string) => {
        this.lines.push(line);
        this.logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    };
    const log = pino({ level: 'debug' }, sink);
    this.master = new Master({
      config,
      slots: new SlotSockets({ layout: [], open: () => Promise.resolve([]), close: () => {}, log, cwd: '/' }),
      log,
      settingsFor: (c) => ({ heartbeatMs: c.timeout * 250 }) as WorkerSettings,
      reloadConfig: () => this.read(),
      spawn: (slot, events) => {
        const pid = (this.#pid += 1);
        const fake: Fake = { slot, pid, events, sent: [], signals: [], ready: false, leaving: false, exited: false };
        this.fakes.push(fake);
        return { pid: fake.pid, send: (m) => void fake.sent.push(m), kill: (s) => void fake.signals.push(s) };
      },
      installSignals: (actions) => {
        this.actions = actions;
        return () => {};
      },
      notifier: {
        ready: async () => void this.notes.push('READY=1'),
        reloading: async () => void this.notes.push('RELOADING=1'),
        stopping: async () => void this.notes.push('STOPPING=1'),
      } as unknown as SystemdNotifier,
      ...deps,
    });
    void this.master.run().then((code) => (this.code = code));
  }

  get running(): Fake[] {
    return this.fakes.filter((f) => !f.exited);
  }

  send(fake: Fake, message: WorkerMessage): void {
    if (message.type === 'draining') fake.leaving = true;
    fake.events.message(message);
  }

  /** Fakes that boot: every live one not yet ready and not asked to stop. */
  bootAll(): void {
    for (const f of this.running) if (!f.ready && f.signals.length === 0) this.boot(f);
  }

  boot(f: Fake): void {
    this.send(f, { type: 'hello' });
    this.send(f, { type: 'ready' });
    f.ready = true;
  }

  exit(f: Fake, code: number | null = 0, signal: NodeJS.Signals | null = null): void {
    f.exited = true;
    f.events.exit(code, signal);
  }

  /** Workers told to drain or signalled leave, as real ones would. */
  settle(): void {
    for (let again = true; again;) {
      again = false;
      for (const f of this.running) {
        const signal = f.signals.at(-1);
        if (signal !== undefined) this.exit(f, null, signal);
        else if (f.leaving || f.sent.some((m) => m.type === 'drain')) this.exit(f, 0);
        else continue;
        again = true;
      }
    }
  }

  /** Boots and settles until nothing changes: the pool at rest. */
  converge(rounds = 50): void {
    for (let i = 0; i < rounds; i += 1) {
      const before = this.fakes.length + this.running.length;
      this.bootAll();
      this.settle();
      mock.timers.tick(HEALTH_CHECK_MS);
      if (this.fakes.length + this.running.length === before && this.running.every((f) => f.ready)) return;
    }
  }

  events(event: string): Array<Record<string, unknown>> {
    return this.logs.filter((l) => l.event === event);
  }

  /** One ready worker per slot 0..n-1, all of the newest generation, not reloading, systemd told READY=1 last. */
  assertWhole(n: number): void {
    const s = this.master.snapshot();
    const slots = s.workers.map((w) => w.id).sort((a, b) => a - b);
    const seen = JSON.stringify(s.workers.map((w) => [w.id, w.state, w.generation]));
    assert.deepEqual(slots, [...Array(n).keys()], `one worker per slot: ${seen}`);
    assert.ok(
      s.workers.every((w) => w.state === 'ready'),
      'every worker ready',
    );
    assert.ok(
      s.workers.every((w) => w.generation === s.master.generation),
      'every worker of the newest generation',
    );
    assert.equal(this.running.length, n, 'no extra processes');
    assert.equal(s.master.reloading, false, 'the reload ended');
    assert.equal(s.master.workers, n);
    assert.equal(this.notes.at(-1), 'READY=1');
  }
}

/** Lets the reloads' awaited config reads finish. */
export const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
};

export function started(overrides: Partial<Config> = {}): World {
  const w = new World(overrides);
  w.bootAll();
  assert.equal(w.master.snapshot().master.state, 'running');
  return w;
}

export function heartbeat(): WorkerMessage {
  return {
    type: 'heartbeat',
    rss: 1,
    requests: 0,
    inflight: 0,
    keepAlive: 0,
    canShed: false,
    lagMs: 0,
    stats: {} as never,
  };
}
