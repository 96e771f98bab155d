import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { test } from 'node:test';
import { app, request, sleep } from '../helpers/prefork.js';
import { isRoot, onlyChildOf, startWrapped } from '../helpers/wrapped.js';

/**
 * prefork as a container's entrypoint: PID 1 of its own PID namespace, as under `docker run`.
 * The kernel drops every signal PID 1 has no handler for, so TERM and INT work only because
 * prefork handles them. unshare --kill-child tears the namespace down if a test fails.
 */
const UNSHARE = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc'];
const skip = !isRoot ? 'needs root to create a PID namespace' : !existsSync('/usr/bin/unshare') ? 'needs util-linux unshare' : false;

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`as PID 1, ${signal} drains the in-flight request and exits 0`, { skip }, async (t) => {
    const p = startWrapped(t, UNSHARE, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
    const target = await p.ready();
    const master = p.logs.find((l) => l.role === 'master');
    assert.equal(master?.pid, 1, 'prefork is PID 1 in its namespace');
    assert.ok(p.logs.some((l) => l.event === 'pid1'), 'and warns that it cannot reap orphans');
    const outer = await onlyChildOf(p.pid);
    assert.match(readFileSync(`/proc/${outer}/cmdline`, 'utf8'), /^prefork master/);
    const slow = request(target, { path: '/slow?ms=1000', agent: new http.Agent({ keepAlive: true }) });
    await sleep(200);
    process.kill(outer, signal);
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.json<{ slept: number }>().slept, 1000);
    assert.equal(reply.headers.connection, 'close');
    assert.deepEqual(await p.exited, { code: 0, signal: null }, 'unshare passes on prefork\'s exit status');
    assert.ok(p.logs.some((l) => l.event === 'stopped' && l.code === 0));
  });
}

test('as PID 1, an app that cannot load still exits 4', { skip }, async (t) => {
  const p = startWrapped(t, UNSHARE, ['-w', '2', '-b', '127.0.0.1:0', app('throws.cjs')]);
  const exit = await p.exited;
  assert.equal(exit.code, 4);
  assert.match(p.stderr.trim(), /^prefork: app .*throws\.cjs threw while loading: boom at import$/);
});
