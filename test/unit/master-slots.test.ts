import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeSlotSockets } from '../helpers/fake-sockets.js';
import type { MasterMessage } from '../../src/shared/messages.js';
import { World, flush, useFakeMaster } from '../helpers/fake-master.js';

// The master with per-worker sockets, over fake workers and fake sockets: a slot is bound before
// it is forked, each worker is told its own addresses, a slot gives its socket up only once its
// last worker has gone.

useFakeMaster();

const urlsOf = (sent: MasterMessage[]): string[] => {
  const start = sent.find((m) => m.type === 'start');
  assert.ok(start?.type === 'start');
  assert.equal(start.handles, start.settings.urls.length);
  return start.settings.urls;
};

test('each worker is told the shared sockets and its own; TTIN binds the new slot before forking it; TTOU closes it once its worker exited', async () => {
  const { slots, opened, closed } = fakeSlotSockets(['unix:/r/shared.sock', 'unix:/r/web-{worker}.sock']);
  await slots.bindUpTo(2);
  const w = new World({ workers: 2 }, { slots });
  w.bootAll();
  for (const f of w.fakes) assert.deepEqual(urlsOf(f.sent), ['unix:/r/shared.sock', `unix:/r/web-${f.slot}.sock`]);

  w.actions.scaleUp();
  assert.equal(w.fakes.length, 2, 'nothing forked before slot 2 is bound');
  await flush();
  assert.deepEqual(opened, ['unix:/r/web-0.sock', 'unix:/r/web-1.sock', 'unix:/r/web-2.sock']);
  const third = w.fakes.find((f) => f.slot === 2);
  assert.ok(third, 'slot 2 forked once its socket was bound');
  w.bootAll();
  assert.deepEqual(urlsOf(third.sent), ['unix:/r/shared.sock', 'unix:/r/web-2.sock']);
  w.assertWhole(3);
  assert.deepEqual(
    w.master.snapshot().workers.map((s) => s.addresses),
    [0, 1, 2].map((i) => [`unix:/r/web-${i}.sock`]),
  );

  w.actions.scaleDown();
  assert.ok(third.sent.some((m) => m.type === 'drain'));
  assert.deepEqual(closed, [], 'the socket stays while slot 2 drains');
  w.settle();
  assert.deepEqual(closed, ['unix:/r/web-2.sock'], 'closed once its worker exited');
  w.assertWhole(2);
});

test("a worker's exit keeps its slot's socket: the successor gets the same one", async () => {
  const { slots, opened, closed } = fakeSlotSockets(['unix:/r/web-{worker}.sock']);
  await slots.bindUpTo(2);
  const w = new World({ workers: 2 }, { slots });
  w.bootAll();
  w.exit(
    w.fakes.find((f) => f.slot === 1)!,
    null,
    'SIGKILL',
  );
  w.converge();
  w.assertWhole(2);
  assert.deepEqual(closed, []);
  assert.equal(opened.length, 2, 'bound once');
  const successor = w.running.find((f) => f.slot === 1)!;
  assert.deepEqual(urlsOf(successor.sent), ['unix:/r/web-1.sock']);
});

test('a slot whose socket cannot be bound is refused with a warning; the pool stays', async () => {
  const { slots } = fakeSlotSockets(['127.0.0.1:{9000+worker}'], (b) => b.kind === 'tcp' && b.port === 9002);
  await slots.bindUpTo(2);
  const w = new World({ workers: 2 }, { slots });
  w.bootAll();
  w.actions.scaleUp();
  await flush();
  assert.match(String(w.events('scale-refused')[0]?.reason), /cannot bind 127.0.0.1:9002/);
  assert.equal(w.events('scale').length, 0);
  w.converge();
  w.assertWhole(2);
  // The next TTIN asks for 3 again, not 4.
  w.actions.scaleUp();
  await flush();
  assert.equal(w.events('scale-refused').length, 2);
  assert.equal(w.master.snapshot().master.workers, 2);
});
