import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDockerfile } from '../helpers/dockerfile.js';
import { ROOT, app, request, sleep, startPrefork } from '../helpers/prefork.js';
import { isRoot, onlyChildOf, startWrapped } from '../helpers/wrapped.js';

/**
 * prefork as a container's entrypoint: PID 1 of its own PID namespace, as under `docker run`.
 * The kernel drops every signal PID 1 has no handler for, so TERM and INT work only because
 * prefork handles them. unshare --kill-child tears the namespace down if a test fails.
 */
const UNSHARE = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc'];
const canUnshare = (): boolean => spawnSync(UNSHARE[0]!, [...UNSHARE.slice(1), 'true']).status === 0;
const skip = !isRoot
  ? 'needs root to create a PID namespace'
  : !canUnshare()
    ? 'needs util-linux unshare and a kernel that lets us create a PID namespace'
    : false;

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`as PID 1, ${signal} drains the in-flight request and exits 0`, { skip }, async (t) => {
    const p = startWrapped(t, UNSHARE, ['-w', '2', '-b', '127.0.0.1:0', app('pid.cjs')]);
    const target = await p.ready();
    const master = p.logs.find((l) => l.role === 'master');
    assert.equal(master?.pid, 1, 'prefork is PID 1 in its namespace');
    assert.ok(
      p.logs.some((l) => l.event === 'pid1'),
      'and warns that it cannot reap orphans',
    );
    const outer = await onlyChildOf(p.pid);
    assert.match(readFileSync(`/proc/${outer}/cmdline`, 'utf8'), /^prefork master/);
    const slow = request(target, { path: '/slow?ms=1000', agent: new http.Agent({ keepAlive: true }) });
    await sleep(200);
    process.kill(outer, signal);
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.json<{ slept: number }>().slept, 1000);
    assert.equal(reply.headers.connection, 'close');
    assert.deepEqual(await p.exited, { code: 0, signal: null }, "unshare passes on prefork's exit status");
    assert.ok(p.logs.some((l) => l.event === 'stopped' && l.code === 0));
  });
}

test(
  'as PID 1, SIGUSR2 (hot upgrade) is refused with a line that says why and what to do instead; serving goes on',
  { skip },
  async (t) => {
    const p = startWrapped(t, UNSHARE, ['-w', '1', '-b', '127.0.0.1:0', app('pid.cjs')]);
    const target = await p.ready();
    const outer = await onlyChildOf(p.pid);
    process.kill(outer, 'SIGUSR2');
    const refused = await p.waitForEvent('upgrade-refused');
    assert.match(
      String(refused.msg),
      /^SIGUSR2 refused: this master is PID 1 .*cannot leave without ending the container.*SIGHUP for a rolling restart/,
    );
    assert.equal((await request(target)).status, 200);
    assert.ok(!p.logs.some((l) => l.event === 'upgrade-started'), 'no new master was started');
    process.kill(outer, 'SIGTERM');
    assert.deepEqual(await p.exited, { code: 0, signal: null });
  },
);

test('as PID 1, an app that cannot load still exits 4', { skip }, async (t) => {
  const p = startWrapped(t, UNSHARE, ['-w', '2', '-b', '127.0.0.1:0', app('throws.cjs')]);
  const exit = await p.exited;
  assert.equal(exit.code, 4);
  assert.match(
    p.stderr.trim(),
    /^prefork: app .*throws\.cjs threw while loading: boom at import \(at .*throws\.cjs:1\)$/,
  );
});

const DOCKERFILE = readFileSync(join(ROOT, 'examples/Dockerfile'), 'utf8');

test('the containers guide shows examples/Dockerfile as it is, comments left out', () => {
  const readme = readFileSync(join(ROOT, 'docs/containers.md'), 'utf8');
  const shown = /```dockerfile\n([\s\S]*?)```/.exec(readme)?.[1];
  const code = DOCKERFILE.split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .join('\n');
  assert.equal(shown?.trim(), code.trim());
});

test('the Dockerfile runs prefork in exec form on node:22-slim, with STOPSIGNAL SIGTERM and the built CLI', () => {
  assert.match(DOCKERFILE, /^FROM node:22-slim$/m);
  assert.match(DOCKERFILE, /^STOPSIGNAL SIGTERM$/m);
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(DOCKERFILE)?.[1] ?? 'null') as string[];
  assert.equal(entrypoint[0], 'node');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    bin: Record<string, string>;
  };
  assert.equal(entrypoint[1], `node_modules/${pkg.name}/${pkg.bin.prefork}`);
  assert.match(DOCKERFILE, /--init/, 'says how to get zombies reaped');
});

test("the Dockerfile's HEALTHCHECK asks /readyz on the admin listener: passes while prefork serves, fails once it is gone", async (t) => {
  const image = readDockerfile();
  const command = image.healthcheck;
  assert.equal(command[0], 'node');
  const url = /fetch\('(http:\/\/127\.0\.0\.1:(\d+)\/readyz)'\)/.exec(command.join(' '));
  assert.ok(url, `the HEALTHCHECK fetches /readyz: ${command.join(' ')}`);
  const entry = image.entrypoint;
  const metricsBind = entry[entry.lastIndexOf('--metrics-bind') + 1];
  assert.equal(metricsBind, `0.0.0.0:${url[2]}`, "the port the ENTRYPOINT's --metrics-bind listens on");
  const p = startPrefork(t, ['-w', '1', '-b', '127.0.0.1:0', '--metrics-bind', '127.0.0.1:0', app('pid.cjs')]);
  await p.ready();
  const admin = new URL(String((await p.waitForEvent('metrics-listening')).address));
  // The same command, pointed at this test's admin port instead of the image's 9100.
  const script = command.slice(1).map((arg) => arg.replace(url[1]!, `http://127.0.0.1:${admin.port}/readyz`));
  const check = (): number | null => spawnSync(process.execPath, script, { timeout: 10_000 }).status;
  assert.equal(check(), 0);
  assert.equal((await p.stop()).code, 0);
  assert.equal(check(), 1);
});
