import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ProbeState, probeReply } from '../../src/master/probes.js';

const at = (state: ProbeState['state'], serving: number, desired = 2): ProbeState => ({ state, serving, desired });

test('/readyz: 200 only while running with a serving worker, or once handed over to a new master', () => {
  const cases: Array<[ProbeState, 200 | 503]> = [
    [at('starting', 0), 503],
    [at('starting', 1), 503],
    [at('running', 2), 200],
    [at('running', 1), 200],
    [at('running', 0), 503],
    [at('stopping', 2), 503],
    [at('handed-over', 0), 200],
  ];
  for (const [state, status] of cases) assert.equal(probeReply('/readyz', state).status, status, JSON.stringify(state));
});

test('/livez: 200 in every state; both bodies are one JSON line with the state and the counts', () => {
  for (const state of ['starting', 'running', 'stopping', 'handed-over'] as const)
    assert.equal(probeReply('/livez', at(state, 0)).status, 200);
  const { body } = probeReply('/readyz', at('starting', 1, 3));
  assert.ok(body.endsWith('}\n'));
  assert.deepEqual(JSON.parse(body), { ok: false, state: 'starting', serving: 1, desired: 3 });
});
