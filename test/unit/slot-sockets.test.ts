import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Listener } from '../../src/master/listeners.js';
import { fakeSlotSockets } from '../helpers/fake-sockets.js';
import { ExitCode, PreforkError } from '../../src/shared/exit-codes.js';

const urls = (ls: readonly Listener[]): string[] => ls.map((l) => l.url);

test('each slot is given the shared sockets and its own, in bind order; a slot is bound once', async () => {
  const { slots, opened } = fakeSlotSockets([
    'unix:/r/a.sock',
    'unix:/r/web-{worker}.sock',
    '127.0.0.1:80',
    ':{9000+worker}',
  ]);
  assert.equal(slots.covered, 0);
  await Promise.all([slots.bindUpTo(2), slots.bindUpTo(2), slots.bindUpTo(1)]);
  assert.deepEqual(opened, ['unix:/r/web-0.sock', ':9000', 'unix:/r/web-1.sock', ':9001'], 'each slot bound once');
  assert.equal(slots.covered, 2);
  assert.deepEqual(urls(slots.handles(1)), ['unix:/r/a.sock', 'unix:/r/web-1.sock', '127.0.0.1:80', ':9001']);
  assert.deepEqual(urls(slots.own(0)), ['unix:/r/web-0.sock', ':9000']);
  assert.deepEqual(slots.templates(), ['unix:/r/web-{worker}.sock', ':{9000+worker}']);
  assert.deepEqual(urls(slots.handles(5)), ['unix:/r/a.sock', '127.0.0.1:80'], 'a slot not bound: shared only');
});

test('without a per-worker bind every slot gets the shared sockets and nothing is bound', async () => {
  const { slots, opened } = fakeSlotSockets(['unix:/r/a.sock']);
  assert.equal(slots.covered, Number.POSITIVE_INFINITY);
  await slots.bindUpTo(4);
  assert.deepEqual(opened, []);
  assert.deepEqual(urls(slots.handles(3)), ['unix:/r/a.sock']);
});

test('a slot whose address a shared bind has is refused (exit 3); the slots before it stay bound', async () => {
  const { slots, opened } = fakeSlotSockets(['unix:/r/web-{worker}.sock', 'unix:/r/web-2.sock']);
  await assert.rejects(slots.bindUpTo(4), (err: unknown) => {
    assert.ok(err instanceof PreforkError);
    assert.equal(err.exitCode, ExitCode.bind);
    assert.match(
      err.message,
      /cannot bind unix:\/r\/web-2.sock for worker 2: it is the same address as unix:\/r\/web-2.sock/,
    );
    return true;
  });
  assert.deepEqual(opened, ['unix:/r/web-0.sock', 'unix:/r/web-1.sock']);
  assert.equal(slots.covered, 2);
  // A failure does not block the next call.
  await slots.bindUpTo(2);
});

test('release closes the slots from `keep` up that no worker uses, and logs each socket; closeAll closes the rest for good', async () => {
  const { slots, closed, logs } = fakeSlotSockets(['unix:/r/web-{worker}.sock', ':80']);
  await slots.bindUpTo(4);
  slots.release(2, (slot) => slot === 3);
  assert.deepEqual(closed, ['unix:/r/web-2.sock']);
  assert.deepEqual(
    logs.filter((l) => l.event === 'socket-closed').map((l) => [l.worker, l.address]),
    [[2, 'unix:/r/web-2.sock']],
  );
  assert.deepEqual(slots.boundSlots(), [0, 1, 3]);
  assert.equal(slots.covered, 2);
  slots.closeAll();
  assert.deepEqual(closed, ['unix:/r/web-2.sock', 'unix:/r/web-0.sock', 'unix:/r/web-1.sock', 'unix:/r/web-3.sock']);
  await slots.bindUpTo(6);
  assert.equal(slots.covered, 2, 'nothing is bound after a stop');
});
