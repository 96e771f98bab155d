import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { pino } from 'pino';
import { MEMORY_SAMPLES } from '../../src/master/health.js';
import { HEALTH_CHECK_MS } from '../../src/master/master.js';
import { WorkerHandle } from '../../src/master/worker-handle.js';
import { prettyLine } from '../../src/shared/log.js';
import { emptyStats } from '../../src/shared/request-stats.js';
import { ROOT } from '../helpers/prefork.js';
import { logEvents } from '../../tools/log-events.js';
import { type Fake, heartbeat, started, useFakeMaster } from '../helpers/fake-master.js';

/**
 * No line prefork writes has the same key twice: JSON.parse keeps the last one, so a master's line
 * that also wrote the worker's `pid` read as the worker's and lost the master's, and log shippers
 * disagree about which one wins. Keys are read from the text, before any parser folds them.
 */
useFakeMaster();

/** The keys of a JSON object's top level, in order, repeats kept. */
export function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < json.length; i += 1) {
    const c = json[i];
    if (c === '{' || c === '[') depth += 1;
    else if (c === '}' || c === ']') depth -= 1;
    else if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const after = json.slice(end + 1).trimStart();
      if (depth === 1 && after.startsWith(':')) keys.push(JSON.parse(json.slice(i, end + 1)) as string);
      i = end;
    }
  }
  return keys;
}

const repeated = (line: string): string[] => topLevelKeys(line).filter((k, i, all) => all.indexOf(k) !== i);

test('topLevelKeys sees a repeated key that JSON.parse folds, and not keys nested or inside strings', () => {
  assert.deepEqual(topLevelKeys('{"pid":1,"a":{"pid":2},"msg":"\\"pid\\": x","b":[{"c":1}],"pid":3}'), [
    'pid',
    'a',
    'msg',
    'b',
    'pid',
  ]);
  assert.deepEqual(repeated('{"pid":1,"worker":0,"pid":2}'), ['pid']);
});

test("a worker's child logger binds its slot and pid once, beside the master's own pid", () => {
  const lines: string[] = [];
  const log = pino({ base: { pid: 8692, role: 'master' } }, { write: (l: string) => void lines.push(l) });
  const handle = new WorkerHandle(3, { pid: 8703, send: () => {}, kill: () => {} }, () => {}, log);
  handle.log.info({ event: 'worker', state: 'booting' }, 'booting');
  handle.transition('ready', 'serving');
  const line = lines[0]!;
  assert.deepEqual(repeated(line), []);
  assert.deepEqual(JSON.parse(line), {
    ...(JSON.parse(line) as object),
    pid: 8692,
    worker: 3,
    workerPid: 8703,
    msg: 'booting',
  });
  assert.match(prettyLine(line), / INFO {2}master \(8692\) worker 3 \(pid 8703\) booting {2}state=booting\n$/);
});

test('every line of a master run (boot, back-off, hung, bloated, reload, stop) has each key once', async () => {
  const w = started({ minUptime: 60, timeout: 2, maxMemory: 1 });
  const [first, second] = w.running as [Fake, Fake];
  w.exit(first, null, 'SIGKILL');
  // Died before it served: back-off.
  w.exit(
    w.running.find((f) => !f.ready)!,
    4,
  );
  mock.timers.tick(1000);
  const bloated = Object.assign(heartbeat(), { rss: 2 * 1048576, stats: emptyStats() });
  for (let i = 0; i < MEMORY_SAMPLES; i += 1) w.send(second, bloated);
  // Then silent: hung.
  for (let t = 0; t < 5000; t += HEALTH_CHECK_MS) mock.timers.tick(HEALTH_CHECK_MS);
  w.converge();
  w.actions.reload();
  await Promise.resolve();
  w.converge();
  w.actions.stop();
  w.settle();
  for (const event of ['worker', 'backoff', 'worker-hung', 'worker-bloated']) {
    assert.ok(w.events(event).length > 0, `the run logged ${event}`);
    for (const l of w.events(event)) assert.equal(typeof l.workerPid, 'number', `${event} names the worker's pid`);
  }
  for (const line of w.lines) assert.deepEqual(repeated(line), [], line);
});

test('no log event writes a key its logger already puts on every line', () => {
  const base = ['level', 'time', 'pid', 'hostname', 'role', 'name', 'msg'];
  for (const e of logEvents(ROOT, ['src'])) {
    assert.deepEqual(
      e.fields.filter((f) => base.includes(f)),
      [],
      `${e.event} (${e.files.join(', ')})`,
    );
  }
  // A worker's own logger binds its slot as `worker`.
  for (const e of logEvents(ROOT, ['src/worker'])) assert.ok(!e.fields.includes('worker'), e.event);
});
