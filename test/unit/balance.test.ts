import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Balancer, MIN_EXCESS, excessConnections } from '../../src/shared/balance.js';

test('excessConnections: down to the mean, only beyond 120 % of it and at least MIN_EXCESS over', () => {
  assert.equal(excessConnections(57, [57, 7]), 25);
  assert.equal(excessConnections(7, [57, 7]), 0, 'the lighter worker sheds nothing');
  assert.equal(excessConnections(38, [38, 26]), 0, '59 % of two workers is within the tolerance');
  assert.equal(excessConnections(40, [40, 24]), 8);
  assert.equal(excessConnections(5, [5, 0]), 0, `fewer than ${MIN_EXCESS} over the mean is not worth a reconnect`);
  assert.equal(excessConnections(8, [8, 0]), 4);
  assert.equal(excessConnections(30, [30, 10, 10, 10]), 15);
  assert.equal(excessConnections(64, [64]), 0, 'one worker has nobody to hand connections to');
  assert.equal(excessConnections(0, [0, 0]), 0);
});

test('Balancer: the busiest worker sheds, then quiet until the counts can show the effect', () => {
  const b = new Balancer(500);
  const a = { id: 'a', connections: 10 };
  const z = { id: 'z', connections: 54 };
  assert.deepEqual(b.decide([a, z], 1000), { worker: z, count: 22 });
  assert.equal(b.decide([a, z], 1400), null, 'still quiet');
  assert.deepEqual(b.decide([a, z], 1500), { worker: z, count: 22 });
  assert.equal(b.decide([{ connections: 32 }, { connections: 32 }], 5000), null);
  assert.equal(b.decide([z], 9000), null);
});
