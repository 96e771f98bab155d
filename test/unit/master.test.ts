import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, mock, test } from 'node:test';
import { pino } from 'pino';
import { resolveConfig } from '../../src/config.js';
import { HEALTH_CHECK_MS, Master } from '../../src/master.js';
import type { MasterMessage, WorkerMessage, WorkerSettings } from '../../src/messages.js';
import type { Config } from '../../src/options.js';
import type { MasterAction } from '../../src/signals.js';
import type { SystemdNotifier } from '../../src/systemd.js';
import type { WorkerEvents } from '../../src/worker-handle.js';

/**
 * The master loop driven by fake workers and fake timers: every interleaving of reloads, scaling,
 * stops and worker deaths, checked against the one invariant that matters: the pool ends with
 * one ready worker per slot, all of the newest generation, and systemd told READY=1.
 */

interface Fake {
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
before(async () => {
  base = await resolveConfig({ argv: { app: 'app.js' }, env: {}, cwd: '/tmp', stdoutIsTTY: false });
});
beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 }));
afterEach(() => mock.timers.reset());
after(() => mock.timers.reset());

class World {
  readonly fakes: Fake[] = [];
  readonly logs: Array<Record<string, unknown>> = [];
  /** What systemd was told, in order. */
  readonly notes: string[] = [];
  readonly master: Master;
  actions!: Record<MasterAction, () => void>;
  next: Config;
  /** How the master's reloadConfig reads the config: `next`, at once, unless a test says otherwise. */
  read: () => Promise<Config> = async () => this.next;
  code: number | null = null;
  #pid = 100;

  constructor(overrides: Partial<Config> = {}) {
    const config = Object.freeze({ ...base, workers: 2, ...overrides }) as Config;
    this.next = config;
    const log = pino({ level: 'debug' }, { write: (line: string) => void this.logs.push(JSON.parse(line) as Record<string, unknown>) });
    this.master = new Master({
      config,
      listeners: [],
      log,
      settingsFor: (c) => ({ heartbeatMs: c.timeout * 250 }) as WorkerSettings,
      reloadConfig: () => this.read(),
      spawn: (slot, events) => {
        const fake: Fake = { slot, pid: (this.#pid += 1), events, sent: [], signals: [], ready: false, leaving: false, exited: false };
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
    for (let again = true; again; ) {
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
    assert.deepEqual(slots, [...Array(n).keys()], `one worker per slot: ${JSON.stringify(s.workers.map((w) => [w.id, w.state, w.generation]))}`);
    assert.ok(s.workers.every((w) => w.state === 'ready'), 'every worker ready');
    assert.ok(s.workers.every((w) => w.generation === s.master.generation), 'every worker of the newest generation');
    assert.equal(this.running.length, n, 'no extra processes');
    assert.equal(s.master.reloading, false, 'the reload ended');
    assert.equal(s.master.workers, n);
    assert.equal(this.notes.at(-1), 'READY=1');
  }
}

/** Lets the reloads' awaited config reads finish. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
};

function started(overrides: Partial<Config> = {}): World {
  const w = new World(overrides);
  w.bootAll();
  assert.equal(w.master.snapshot().master.state, 'running');
  return w;
}

describe('crash and back-off', () => {
  test('a worker that was ready is replaced at once, however young and however often', () => {
    const w = started({ minUptime: 60 });
    for (let i = 0; i < 20; i += 1) {
      const victim = w.running.find((f) => f.ready)!;
      const before = w.fakes.length;
      w.exit(victim, null, 'SIGKILL');
      assert.equal(w.fakes.length, before + 1, `death ${i}: its slot is forked again at once`);
      assert.equal(w.fakes.at(-1)!.slot, victim.slot);
      w.bootAll();
    }
    assert.equal(w.events('backoff').length, 0);
    assert.equal(w.master.stats.restarts.crash, 20);
    w.assertWhole(2);
  });

  test('workers that die before they are ever ready back off 0.1, 0.2, 0.4 s; one that serves again ends the streak', () => {
    const w = started({ minUptime: 60 });
    w.exit(w.running[0]!, null, 'SIGKILL'); // served: at once
    for (const delay of [100, 200, 400]) {
      const booting = w.running.find((f) => !f.ready)!;
      w.exit(booting, 4);
      const count = w.fakes.length;
      assert.equal(w.events('backoff').at(-1)?.delayMs, delay);
      mock.timers.tick(delay - 1);
      assert.equal(w.fakes.length, count, 'not before the delay');
      mock.timers.tick(1);
      assert.equal(w.fakes.length, count + 1, 'forked once the delay is over');
    }
    w.bootAll();
    w.assertWhole(2);
    // Ready, then killed: at once, and the streak goes on where it was (no proof the app boots yet).
    w.exit(w.running[0]!, null, 'SIGKILL');
    w.exit(w.running.find((f) => !f.ready)!, 4);
    assert.equal(w.events('backoff').at(-1)?.delayMs, 800);
  });

  test('a boot failure while starting stops the master with exit 4', async () => {
    const w = new World();
    w.boot(w.fakes[0]!);
    w.send(w.fakes[1]!, { type: 'boot-failed', reason: 'boom at import' });
    w.exit(w.fakes[1]!, 4);
    w.settle();
    await flush();
    assert.equal(w.code, 4);
    assert.match(String(w.events('fatal')[0]?.reason), /boom at import/);
  });
});

describe('planned replacement: surge, then drain', () => {
  test('max-requests: the successor is forked ahead of time; the old worker drains once it is ready', () => {
    const w = started();
    const old = w.running[0]!;
    w.send(old, { type: 'recycle-soon', reason: 'max-requests' });
    const successor = w.fakes.at(-1)!;
    assert.equal(successor.slot, old.slot);
    assert.equal(w.running.length, 3);
    assert.ok(!old.sent.some((m) => m.type === 'drain'), 'the old one serves while its successor boots');
    w.boot(successor);
    assert.ok(old.sent.some((m) => m.type === 'drain'));
    w.settle();
    assert.equal(w.master.stats.restarts.max_requests, 1);
    w.assertWhole(2);
  });

  test('max-requests reached before the successor is ready: the slot is not forked twice', () => {
    const w = started();
    const old = w.running[0]!;
    w.send(old, { type: 'draining', reason: 'max-requests' });
    assert.equal(w.running.length, 3);
    mock.timers.tick(HEALTH_CHECK_MS * 4);
    assert.equal(w.running.length, 3, 'the booting successor covers the slot');
    w.converge();
    w.assertWhole(2);
  });

  test('reload, batch 1: each old worker drains only after its successor is ready', async () => {
    const w = started({ workers: 3, reloadBatch: 1 });
    const olds = [...w.running];
    assert.equal(await w.master.reload(), null);
    assert.equal(w.running.length, 4, 'one successor at a time');
    for (let i = 0; i < 3; i += 1) {
      const successor = w.fakes.at(-1)!;
      const old = olds.find((o) => o.slot === successor.slot)!;
      assert.ok(!old.sent.some((m) => m.type === 'drain'));
      w.boot(successor);
      assert.ok(old.sent.some((m) => m.type === 'drain'));
      w.settle();
    }
    w.assertWhole(3);
    assert.deepEqual(w.notes, ['READY=1', 'RELOADING=1', 'READY=1']);
    assert.equal(w.events('reload-done').length, 1);
  });

  test('a reload whose new worker fails half way: the rest keep serving, the reload ends, and is not retried', async () => {
    const w = started({ workers: 3, reloadBatch: 1 });
    await w.master.reload();
    w.boot(w.fakes.at(-1)!);
    w.settle();
    const failing = w.fakes.at(-1)!;
    w.send(failing, { type: 'boot-failed', reason: 'SyntaxError' });
    w.exit(failing, 4);
    assert.equal(w.events('replace-failed').length, 1);
    assert.equal(w.master.snapshot().master.reloading, false);
    assert.deepEqual(w.notes, ['READY=1', 'RELOADING=1', 'READY=1']);
    const count = w.fakes.length;
    mock.timers.tick(HEALTH_CHECK_MS * 10);
    assert.equal(w.fakes.length, count, 'the failed reload is not started again by itself');
    const s = w.master.snapshot();
    assert.deepEqual(s.workers.map((x) => [x.id, x.state, x.generation]).sort(), [[0, 'ready', 1], [1, 'ready', 0], [2, 'ready', 0]]);
    // The next reload does the whole job.
    await w.master.reload();
    w.converge();
    w.assertWhole(3);
  });
});

describe('overlapping reloads, scaling and stops', () => {
  test('two reloads at once coalesce: one new worker per slot, RELOADING=1 once, READY=1 at the end', async () => {
    const w = started();
    await Promise.all([w.master.reload(), w.master.reload()]);
    w.converge();
    w.assertWhole(2);
    assert.deepEqual(w.notes, ['READY=1', 'RELOADING=1', 'READY=1']);
  });

  test('HUP, then HUP again while the first reload\'s workers boot: the newest config wins', async () => {
    const w = started();
    w.actions.reload();
    await flush();
    assert.ok(w.running.length > 2, 'successors booting');
    w.next = Object.freeze({ ...w.next, workers: 3 }) as Config;
    w.actions.reload();
    await flush();
    w.converge();
    w.assertWhole(3);
    assert.deepEqual(w.notes, ['READY=1', 'RELOADING=1', 'READY=1']);
  });

  test('a reload asked for while a new worker boots for the previous one stops that worker and starts over', async () => {
    const w = started();
    await w.master.reload();
    const stale = w.fakes.at(-1)!;
    await w.master.reload();
    assert.deepEqual(stale.signals, ['SIGTERM'], 'the successor booting with the older config is stopped');
    w.converge();
    w.assertWhole(2);
    assert.equal(stale.ready, false);
  });

  test('overlapping reloads whose config reads finish out of order: the newest ask wins', async () => {
    const w = started();
    const reads: Array<(c: Config) => void> = [];
    w.read = () => new Promise((resolve) => reads.push(resolve));
    const first = w.master.reload();
    const second = w.master.reload();
    await flush();
    reads[1]!(Object.freeze({ ...w.next, workers: 3 }) as Config);
    await flush();
    reads[0]!(Object.freeze({ ...w.next, workers: 1 }) as Config);
    assert.deepEqual(await Promise.all([first, second]), [null, null]);
    w.converge();
    w.assertWhole(3);
    assert.equal(w.events('reload').length, 1, 'the older ask coalesced into the newer');
  });

  test('a reload superseded by one whose config read fails answers with that failure, not with a reload it never did', async () => {
    const w = started();
    const reads: Array<{ resolve: (c: Config) => void; reject: (e: Error) => void }> = [];
    w.read = () => new Promise((resolve, reject) => reads.push({ resolve, reject }));
    const first = w.master.reload();
    const second = w.master.reload();
    await flush();
    reads[0]!.resolve(w.next);
    reads[1]!.reject(new Error('config.json: unexpected token'));
    const [a, b] = await Promise.all([first, second]);
    assert.match(String(b), /reload aborted.*unexpected token/);
    assert.equal(a, b);
    assert.equal(w.master.snapshot().master.reloading, false);
    assert.equal(w.fakes.length, 2, 'nothing was replaced');
  });

  test('50 HUPs, some while the config is read, some while new workers boot, some after they are ready', async () => {
    const w = started();
    for (let i = 0; i < 50; i += 1) {
      w.actions.reload();
      if (i % 3 === 0) await flush();
      if (i % 7 === 0) w.bootAll();
      if (i % 11 === 0) w.settle();
      mock.timers.tick(40);
    }
    await flush();
    w.converge();
    w.assertWhole(2);
    assert.equal(w.notes.filter((n) => n === 'RELOADING=1').length, w.notes.filter((n) => n === 'READY=1').length - 1);
  });

  test('HUP, then TTIN 100 ms later: three workers, one per slot', async () => {
    const w = started();
    w.actions.reload();
    await flush();
    mock.timers.tick(100);
    w.actions.scaleUp();
    w.converge();
    w.assertWhole(3);
  });

  test('HUP, then TTOU while the new workers boot: the removed slot stops, its successor too', async () => {
    const w = started({ workers: 3 });
    w.actions.reload();
    await flush();
    w.actions.scaleDown();
    w.converge();
    w.assertWhole(2);
  });

  test('a worker dies during a reload: its slot is served again and the reload still ends', async () => {
    const w = started({ workers: 2, reloadBatch: 1 });
    await w.master.reload();
    const untouched = w.running.find((f) => f.ready && f.slot === 1)!;
    w.exit(untouched, null, 'SIGKILL');
    w.converge();
    w.assertWhole(2);
  });

  test('the old worker being replaced dies while its successor boots: no second fork for the slot', async () => {
    const w = started();
    await w.master.reload();
    const old = w.running.find((f) => f.ready && f.slot === 0)!;
    const count = w.fakes.length;
    w.exit(old, null, 'SIGKILL');
    assert.equal(w.fakes.length, count, 'the booting successor covers the slot');
    w.converge();
    w.assertWhole(2);
  });

  test('HUP, then TERM while the config is read and while new workers boot: every worker stops, exit 0', async () => {
    for (const when of ['reading', 'booting'] as const) {
      const w = started();
      w.actions.reload();
      if (when === 'booting') await flush();
      w.actions.stop();
      await flush();
      if (when === 'reading') assert.equal(w.running.length, 2, 'no worker forked after the stop');
      w.settle();
      await flush();
      assert.equal(w.code, 0);
      assert.equal(w.running.length, 0);
      assert.equal(w.notes.at(-1), 'STOPPING=1');
    }
  });

  test('TTIN and TTOU in a burst, with deaths in between, settle at the last count', () => {
    const w = started();
    for (const a of ['scaleUp', 'scaleUp', 'scaleDown', 'scaleUp', 'scaleDown', 'scaleDown', 'scaleDown', 'scaleUp'] as const) {
      w.actions[a]();
      const victim = w.running.find((f) => f.ready);
      if (victim !== undefined) w.exit(victim, null, 'SIGKILL');
      if (a === 'scaleUp') w.bootAll();
    }
    w.converge();
    w.assertWhole(2);
  });
});

describe('health: a paused master does not murder its workers', () => {
  test('the master sleeps longer than --timeout: nobody is judged hung for time it did not watch', () => {
    const w = started({ timeout: 2 });
    mock.timers.tick(HEALTH_CHECK_MS);
    // Frozen: the clock runs, no timer fires, no beat is read.
    mock.timers.setTime(Date.now() + 4000);
    mock.timers.tick(HEALTH_CHECK_MS);
    assert.equal(w.events('worker-hung').length, 0);
    for (const f of w.running) w.send(f, heartbeat());
    mock.timers.tick(HEALTH_CHECK_MS * 4);
    assert.equal(w.events('worker-hung').length, 0);
    assert.deepEqual(w.running.map((f) => f.signals), [[], []]);
  });

  test('a worker that stays silent while the master is awake is still killed as hung, pause or not', () => {
    const w = started({ timeout: 2 });
    const [silent, beating] = w.running as [Fake, Fake];
    mock.timers.tick(1000);
    mock.timers.setTime(Date.now() + 4000);
    for (let t = 0; t < 3000; t += HEALTH_CHECK_MS) {
      w.send(beating, heartbeat());
      mock.timers.tick(HEALTH_CHECK_MS);
    }
    assert.deepEqual(w.events('worker-hung').map((l) => l.pid), [silent.pid]);
    assert.deepEqual(silent.signals, ['SIGKILL']);
    assert.deepEqual(beating.signals, []);
  });
});

function heartbeat(): WorkerMessage {
  return { type: 'heartbeat', rss: 1, requests: 0, inflight: 0, keepAlive: 0, canShed: false, lagMs: 0, stats: {} as never };
}
