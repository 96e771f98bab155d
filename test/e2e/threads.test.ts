import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { ROOT, app, distinctPids, request, sleep, startPrefork } from '../helpers/prefork.js';

// --threads N: a tinypool pool in each worker, reached through runTask() from prefork/worker.

interface TaskReply {
  pid: number;
  threadId?: number;
  threads?: boolean;
  error?: string;
  code?: string | null;
}

test('--threads 2: each of 2 workers starts a pool, and runTask() runs the task on a thread', async (t) => {
  const p = startPrefork(t, ['-w', '2', '--threads', '2', '-b', '127.0.0.1:0', app('threads-app.mjs')]);
  const target = await p.ready();
  assert.equal((await distinctPids(target, 2)).size, 2);
  const pools = p.logs.filter((l) => l.role === 'worker' && l.event === 'threads');
  assert.equal(pools.length, 2);
  assert.ok(pools.every((l) => l.threads === 2));
  const reply = (await request(target, { path: '/task?ms=5' })).json<TaskReply>();
  assert.ok((reply.threadId ?? 0) > 0, `ran on thread ${reply.threadId}, not the main thread`);
  assert.equal((await request(target)).json<TaskReply>().threads, true);
});

for (const threads of [1, 0]) {
  test(`--threads ${threads}: a heavy task ${threads > 0 ? 'leaves the event loop free: a cheap request is answered while it runs' : 'runs on the event loop (no pool): a cheap request waits for it'}`, async (t) => {
    const p = startPrefork(t, ['-w', '1', '--threads', String(threads), '-b', '127.0.0.1:0', app('threads-app.mjs')]);
    const target = await p.ready();
    const order: string[] = [];
    const heavy = request(target, { path: '/task?ms=1500' }).then((r) => (order.push('heavy'), r.json<TaskReply>()));
    await sleep(300);
    const cheap = request(target).then((r) => (order.push('cheap'), r.json<TaskReply>()));
    const [h, c] = await Promise.all([heavy, cheap]);
    assert.equal(h.pid, c.pid);
    if (threads > 0) {
      assert.deepEqual(order, ['cheap', 'heavy']);
      assert.ok((h.threadId ?? 0) > 0);
    } else {
      assert.deepEqual(order, ['heavy', 'cheap']);
      assert.equal(h.threadId, 0, 'without threads the task ran on the main thread');
      assert.equal(c.threads, false);
    }
  });
}

test("a task's error reaches the caller as a rejection", async (t) => {
  const p = startPrefork(t, ['-w', '1', '--threads', '1', '-b', '127.0.0.1:0', app('threads-app.mjs')]);
  const target = await p.ready();
  const reply = await request(target, { path: '/fail' });
  assert.equal(reply.status, 500);
  assert.equal(reply.json<TaskReply>().error, 'task failed: boom');
  assert.equal((await request(target, { path: '/task' })).status, 200, 'the pool still works');
});

test('--task-timeout cancels a task that runs too long: the caller gets ERR_PREFORK_TASK_TIMEOUT, the thread is replaced, the worker serves on', async (t) => {
  const p = startPrefork(t, [
    '-w',
    '1',
    '--threads',
    '1',
    '--task-timeout',
    '0.5',
    '-b',
    '127.0.0.1:0',
    app('threads-app.mjs'),
  ]);
  const target = await p.ready();
  const [worker] = p.readyWorkers();
  const reply = await request(target, { path: '/spin' });
  assert.equal(reply.status, 500);
  const body = reply.json<TaskReply>();
  assert.equal(body.code, 'ERR_PREFORK_TASK_TIMEOUT');
  assert.match(body.error ?? '', /spin\.mjs cancelled after --task-timeout 0\.5 s/);
  assert.ok(p.logs.some((l) => l.event === 'task-timeout'));
  const after = (await request(target, { path: '/task?ms=5' })).json<TaskReply>();
  assert.equal(after.pid, worker, 'the same worker');
  assert.ok((after.threadId ?? 0) > 0, 'on a new thread');
});

test('a draining worker destroys its pool only after its in-flight requests finished', async (t) => {
  const p = startPrefork(t, ['-w', '1', '--threads', '1', '-b', '127.0.0.1:0', app('threads-app.mjs')]);
  const target = await p.ready();
  const inFlight = request(target, { path: '/task?ms=1200' });
  await sleep(300);
  p.signal('SIGTERM');
  const reply = await inFlight;
  assert.equal(reply.status, 200, reply.body);
  assert.ok((reply.json<TaskReply>().threadId ?? 0) > 0);
  assert.equal((await p.exited).code, 0);
});

test('examples/cpu.js: the heavy route computes on a thread, the cheap one answers', async (t) => {
  const p = startPrefork(t, [
    '-w',
    '1',
    '--threads',
    '1',
    '--task-timeout',
    '10',
    '-b',
    '127.0.0.1:0',
    join(ROOT, 'examples/cpu.js'),
  ]);
  const target = await p.ready();
  assert.deepEqual((await request(target, { path: '/heavy?n=20' })).json<{ n: number; fib: number }>(), {
    n: 20,
    fib: 6765,
    pid: p.readyWorkers()[0],
  });
  assert.equal((await request(target)).json<{ hello: string }>().hello, 'world');
});
