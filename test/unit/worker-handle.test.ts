import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { MasterMessage } from '../../src/shared/messages.js';
import {
  IllegalTransition,
  type Transition,
  WorkerHandle,
  type WorkerProcess,
  type WorkerState,
} from '../../src/master/worker-handle.js';

const silent = pino({ enabled: false });

interface Fake {
  handle: WorkerHandle;
  sent: MasterMessage[];
  signals: NodeJS.Signals[];
  transitions: Transition[];
}

function fake(slot = 0, pid: number | null = 4242): Fake {
  const sent: MasterMessage[] = [];
  const signals: NodeJS.Signals[] = [];
  const transitions: Transition[] = [];
  const proc: WorkerProcess = {
    pid: pid ?? undefined,
    send: (message) => void sent.push(message),
    kill: (signal) => void signals.push(signal),
  };
  const handle = new WorkerHandle(slot, proc, (t) => transitions.push(t), silent);
  return { handle, sent, signals, transitions };
}

/** A handle already walked to `state` along a legal path. */
function inState(state: WorkerState): Fake {
  const f = fake();
  const path: Record<WorkerState, WorkerState[]> = {
    booting: [],
    ready: ['ready'],
    draining: ['ready', 'draining'],
    exited: ['exited'],
  };
  for (const to of path[state]) f.handle.transition(to, 'setup');
  f.transitions.length = 0;
  return f;
}

const STATES: WorkerState[] = ['booting', 'ready', 'draining', 'exited'];
const LEGAL: [WorkerState, WorkerState][] = [
  ['booting', 'ready'],
  ['booting', 'draining'],
  ['booting', 'exited'],
  ['ready', 'draining'],
  ['ready', 'exited'],
  ['draining', 'exited'],
];
const isLegal = (from: WorkerState, to: WorkerState): boolean => LEGAL.some(([a, b]) => a === from && b === to);

describe('WorkerHandle: initial state', () => {
  test('starts booting, with slot and pid', () => {
    const { handle, transitions } = fake(3, 999);
    assert.equal(handle.state, 'booting');
    assert.equal(handle.slot, 3);
    assert.equal(handle.pid, 999);
    assert.equal(handle.readyAt, null);
    assert.equal(transitions.length, 0);
  });

  test('an unknown pid reads as -1', () => {
    assert.equal(fake(0, null).handle.pid, -1);
  });

  test('uptime counts from construction', () => {
    const { handle } = fake();
    assert.equal(handle.uptime(handle.startedAt + 1500), 1500);
  });
});

describe('WorkerHandle: transitions', () => {
  test('booting -> ready -> draining -> exited', () => {
    const { handle, transitions } = fake(1);
    handle.transition('ready', 'hello');
    assert.equal(handle.state, 'ready');
    assert.equal(typeof handle.readyAt, 'number');
    handle.transition('draining', 'stop');
    assert.equal(handle.state, 'draining');
    handle.transition('exited', 'code 0');
    assert.equal(handle.state, 'exited');
    assert.deepEqual(
      transitions.map(({ from, to, reason }) => ({ from, to, reason })),
      [
        { from: 'booting', to: 'ready', reason: 'hello' },
        { from: 'ready', to: 'draining', reason: 'stop' },
        { from: 'draining', to: 'exited', reason: 'code 0' },
      ],
    );
    for (const t of transitions) assert.equal(t.worker, handle);
  });

  for (const [from, to] of LEGAL) {
    test(`legal: ${from} -> ${to} calls onTransition once`, () => {
      const { handle, transitions } = inState(from);
      assert.equal(handle.state, from);
      handle.transition(to, `why ${from}-${to}`);
      assert.equal(handle.state, to);
      assert.equal(transitions.length, 1);
      const [t] = transitions;
      assert.ok(t);
      assert.equal(t.worker, handle);
      assert.equal(t.from, from);
      assert.equal(t.to, to);
      assert.equal(t.reason, `why ${from}-${to}`);
    });
  }

  for (const from of STATES) {
    for (const to of STATES) {
      if (isLegal(from, to)) continue;
      test(`illegal: ${from} -> ${to} throws IllegalTransition and changes nothing`, () => {
        const { handle, transitions } = inState(from);
        assert.throws(
          () => handle.transition(to, 'nope'),
          (err: unknown) => {
            assert.ok(err instanceof IllegalTransition);
            assert.ok(err instanceof Error);
            assert.match(err.message, new RegExp(`${from} -> ${to}`));
            assert.match(err.message, /nope/);
            return true;
          },
        );
        assert.equal(handle.state, from);
        assert.equal(transitions.length, 0);
      });
    }
  }

  test('the state is the one handed to onTransition at call time', () => {
    const seen: WorkerState[] = [];
    const handle = new WorkerHandle(
      0,
      { pid: 1, send: () => {}, kill: () => {} },
      (t) => seen.push(t.worker.state),
      silent,
    );
    handle.transition('ready', 'r');
    handle.transition('exited', 'e');
    assert.deepEqual(seen, ['ready', 'exited']);
  });

  test('readyAt is set only by the move to ready', () => {
    const booted = inState('booting');
    booted.handle.transition('draining', 'early stop');
    assert.equal(booted.handle.readyAt, null);
    const ready = inState('ready');
    assert.ok(ready.handle.readyAt !== null && ready.handle.readyAt >= ready.handle.startedAt);
  });
});

describe('WorkerHandle: drain', () => {
  test('a ready worker is sent {type: "drain"} and no signal', () => {
    const { handle, sent, signals, transitions } = inState('ready');
    handle.drain('rolling restart');
    assert.equal(handle.state, 'draining');
    assert.deepEqual(sent, [{ type: 'drain' }]);
    assert.deepEqual(signals, []);
    assert.deepEqual(
      transitions.map((t) => [t.from, t.to, t.reason]),
      [['ready', 'draining', 'rolling restart']],
    );
  });

  test('a booting worker gets SIGTERM and no message', () => {
    const { handle, sent, signals, transitions } = inState('booting');
    handle.drain('stop');
    assert.equal(handle.state, 'draining');
    assert.deepEqual(signals, ['SIGTERM']);
    assert.deepEqual(sent, []);
    assert.deepEqual(
      transitions.map((t) => [t.from, t.to]),
      [['booting', 'draining']],
    );
  });

  test('drain twice is a no-op the second time', () => {
    for (const start of ['ready', 'booting'] as const) {
      const { handle, sent, signals, transitions } = inState(start);
      handle.drain('first');
      handle.drain('second');
      assert.equal(handle.state, 'draining');
      assert.equal(sent.length + signals.length, 1, `${start}: exactly one drain request`);
      assert.equal(transitions.length, 1);
    }
  });

  test('drain on an exited worker does nothing', () => {
    const { handle, sent, signals, transitions } = inState('exited');
    handle.drain('late');
    assert.equal(handle.state, 'exited');
    assert.deepEqual(sent, []);
    assert.deepEqual(signals, []);
    assert.equal(transitions.length, 0);
  });
});

describe('WorkerHandle: kill and send', () => {
  for (const state of ['booting', 'ready', 'draining'] as const) {
    test(`kill() sends SIGKILL to a ${state} worker without changing state`, () => {
      const { handle, signals, transitions } = inState(state);
      handle.kill();
      assert.deepEqual(signals, ['SIGKILL']);
      assert.equal(handle.state, state);
      assert.equal(transitions.length, 0);
    });
  }

  test('kill() on an exited worker sends nothing', () => {
    const { handle, signals } = inState('exited');
    handle.kill();
    assert.deepEqual(signals, []);
  });

  test('send() forwards while alive, including while draining', () => {
    const { handle, sent } = inState('booting');
    handle.send({ type: 'handle', index: 0 });
    handle.transition('ready', 'r');
    handle.send({ type: 'handle', index: 1 });
    handle.transition('draining', 'd');
    handle.send({ type: 'drain' });
    assert.deepEqual(sent, [{ type: 'handle', index: 0 }, { type: 'handle', index: 1 }, { type: 'drain' }]);
  });

  test('send() after exit sends nothing', () => {
    const { handle, sent } = inState('ready');
    handle.transition('exited', 'crash');
    handle.send({ type: 'drain' });
    handle.send({ type: 'handle', index: 0 });
    assert.deepEqual(sent, []);
  });
});

describe('WorkerHandle: exited() says why', () => {
  const cases: Array<[string, (h: WorkerHandle) => void, number | null, NodeJS.Signals | null, RegExp]> = [
    ['a crash', (h) => h.transition('ready', 'x'), 7, null, /^died unexpectedly \(code 7\)$/],
    ['a drain', (h) => h.drain('x'), 0, null, /^drained \(code 0\)$/],
    [
      'a boot failure, in its own words',
      (h) => (h.bootFailure = 'SyntaxError'),
      4,
      null,
      /^failed to boot \(SyntaxError\)$/,
    ],
    ['a boot failure, without', () => {}, null, 'SIGKILL', /^failed to boot \(signal SIGKILL\)$/],
    [
      'a kill by the master',
      (h) => {
        h.transition('ready', 'x');
        h.killReason = 'killed: hung';
      },
      null,
      'SIGKILL',
      /^killed: hung \(signal SIGKILL\)$/,
    ],
  ];
  for (const [what, setup, code, signal, want] of cases) {
    test(what, () => {
      const f = fake();
      setup(f.handle);
      assert.match(f.handle.exited(code, signal), want);
      assert.equal(f.handle.state, 'exited');
    });
  }
});
