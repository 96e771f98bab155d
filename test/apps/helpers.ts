/**
 * The compatibility suite's harness (`npm run test:apps`): installs each fixture app from the npm
 * registry into a cache directory (once per fixture content), builds it, serves it with the built
 * CLI on two workers over TCP and a unix socket, and checks what every app must survive: routes
 * on both sockets, both workers serving, a SIGHUP under load, a TERM that leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { TestContext } from 'node:test';
import {
  CLI,
  type Prefork,
  ROOT,
  type Reply,
  type RequestOptions,
  type Target,
  eventually,
  request,
  sleep,
  tempDir,
  toTarget,
  track,
} from '../helpers/prefork.js';

export const FIXTURES = join(ROOT, 'test/apps/fixtures');
/** Outside the repository, so an app resolves its packages from its own node_modules only. */
export const CACHE = process.env.PREFORK_APPS_CACHE ?? join(tmpdir(), 'prefork-apps-cache');

function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

function hashOf(dir: string, files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(dir, file)))
      .update('\0');
  return hash.digest('hex').slice(0, 12);
}

function run(cwd: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const started = Date.now();
  const result = spawnSync(command, args, {
    cwd,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} in ${cwd} failed (${result.status ?? result.signal}):\n` +
        `${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`,
    );
  }
  process.stderr.write(`# ${relative(CACHE, cwd)}: ${command} ${args.join(' ')} took ${Date.now() - started} ms\n`);
}

/**
 * The fixture installed (`npm ci`) and built in the cache, keyed by a hash of its files: a hit
 * costs nothing; a change of the sources alone rebuilds but reuses the installed node_modules.
 */
export function prepareApp(name: string, build: string[][] = []): string {
  const fixture = join(FIXTURES, name);
  const files = filesOf(fixture);
  const depsHash = hashOf(fixture, ['package.json', 'package-lock.json']);
  const dir = join(CACHE, `${name}-${hashOf(fixture, files)}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  mkdirSync(CACHE, { recursive: true });
  const work = `${dir}.tmp${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  cpSync(fixture, work, { recursive: true });
  const previous = readdirSync(CACHE)
    .filter((d) => d.startsWith(`${name}-`) && !d.includes('.tmp'))
    .map((d) => join(CACHE, d))
    .find((d) => existsSync(join(d, '.deps')) && readFileSync(join(d, '.deps'), 'utf8') === depsHash);
  if (previous !== undefined) renameSync(join(previous, 'node_modules'), join(work, 'node_modules'));
  else run(work, 'npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
  for (const [command = '', ...args] of build) run(work, command, args);
  writeFileSync(join(work, '.deps'), depsHash);
  writeFileSync(join(work, '.complete'), '');
  for (const d of readdirSync(CACHE).filter((d) => d.startsWith(`${name}-`) && join(CACHE, d) !== work)) {
    rmSync(join(CACHE, d), { recursive: true, force: true });
  }
  renameSync(work, dir);
  return dir;
}

export interface Route {
  /** What the report calls it: `GET /health`. */
  name: string;
  /** Sends the request (with `agent` for keep-alive loads) and throws unless the answer is right. */
  check: (target: Target, agent?: http.Agent) => Promise<void>;
}

/** A route that must answer 200 with a body that contains `includes`. */
export function getRoute(path: string, includes: string, opts: RequestOptions = {}): Route {
  return {
    name: `${opts.method ?? 'GET'} ${path}`,
    check: async (target, agent) => {
      const reply: Reply = await request(target, { ...opts, path, ...(agent ? { agent } : {}) });
      assert.equal(reply.status, 200, `${path}: HTTP ${reply.status} ${reply.body.slice(0, 300)}`);
      assert.ok(reply.body.includes(includes), `${path}: ${reply.body.slice(0, 300)} lacks ${includes}`);
    },
  };
}

export interface Served {
  p: Prefork;
  tcp: Target;
  unix: Target;
  socketPath: string;
}

/**
 * `prefork -w 2 -b 127.0.0.1:0 -b unix:DIR/app.sock --access-log ...prefork APP -- ...appArgs`
 * in the app's directory, in a process group of its own (so the test can see every process the
 * app spawned), killed with that group after the test whatever happens.
 */
export async function serveApp(
  t: TestContext,
  cwd: string,
  app: string,
  opts: { appArgs?: string[]; preforkArgs?: string[]; env?: NodeJS.ProcessEnv; workers?: number } = {},
): Promise<Served> {
  const socketPath = join(tempDir(t, 'prefork-app-'), 'app.sock');
  const args = [
    '-w',
    String(opts.workers ?? 2),
    '-b',
    '127.0.0.1:0',
    '-b',
    `unix:${socketPath}`,
    '--access-log',
    '--graceful-timeout',
    '10',
  ];
  args.push(...(opts.preforkArgs ?? []), app);
  if (opts.appArgs !== undefined) args.push('--', ...opts.appArgs);
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    detached: true,
    env: { ...process.env, PREFORK_LOG_FORMAT: 'json', NEXT_TELEMETRY_DISABLED: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = track(t, child);
  t.after(() => {
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      /* the group is gone, as it should be */
    }
  });
  await p.ready(30_000);
  const [tcp, unix] = p.logs
    .filter((l) => l.event === 'listening' && l.worker === undefined)
    .map((l) => toTarget(String(l.address)));
  assert.ok(tcp?.port !== undefined && unix?.socketPath === socketPath, JSON.stringify(p.targets()));
  return { p, tcp, unix, socketPath };
}

/** Pids that logged an access line (prefork's own, so it works for apps that never show a pid). */
export function servingPids(p: Prefork): Set<number> {
  return new Set(p.logs.filter((l) => l.event === 'access' && typeof l.pid === 'number').map((l) => Number(l.pid)));
}

/** Every route answers over TCP and over the unix socket. */
export async function checkRoutes(s: Served, routes: readonly Route[]): Promise<void> {
  for (const target of [s.tcp, s.unix]) for (const route of routes) await route.check(target);
}

/** Requests on fresh connections until both workers logged one (the kernel picks the acceptor). */
export async function checkBothWorkersServe(s: Served, route: Route): Promise<void> {
  const workers = new Set(s.p.readyWorkers());
  assert.equal(workers.size, 2);
  for (let i = 0; i < 200; i += 1) {
    await route.check(i % 2 === 0 ? s.tcp : s.unix);
    if ([...workers].every((pid) => servingPids(s.p).has(pid))) return;
    if (i % 10 === 9) await sleep(20);
  }
  assert.fail(`workers ${[...workers].join(', ')}, access lines from ${[...servingPids(s.p)].join(', ')}`);
}

/**
 * A rolling restart (SIGHUP) while 4 keep-alive clients send requests for up to `ms`: every
 * request succeeds, and new workers serve once it is done.
 */
export async function checkReloadUnderLoad(s: Served, route: Route, ms = 2000): Promise<{ ok: number }> {
  const before = new Set(s.p.readyWorkers());
  const failures: string[] = [];
  let ok = 0;
  let stop = false;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const client = async (i: number): Promise<void> => {
    while (!stop) {
      try {
        await route.check(i % 2 === 0 ? s.tcp : s.unix, agent);
        ok += 1;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const reloaded = s.p.waitForEvent('reload-done', () => true, 60_000);
  const clients = [0, 1, 2, 3].map(client);
  await sleep(300);
  s.p.signal('SIGHUP');
  await reloaded;
  await sleep(Math.max(300, ms - 300));
  stop = true;
  await Promise.all(clients);
  agent.destroy();
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ok + failures.length} requests failed`);
  const after = s.p.readyWorkers();
  assert.equal(after.length, 2);
  assert.ok(
    after.every((pid) => !before.has(pid)),
    `old workers still serving: ${after.join(', ')}`,
  );
  await checkBothWorkersServe(s, route);
  return { ok };
}

/** Pids of the live processes in a process group (from /proc). */
export function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

/** TERM to the master: exit 0, no process of its group left, the socket file gone. */
export async function checkTermCleansUp(s: Served): Promise<{ processes: number }> {
  const pgid = s.p.pid;
  const processes = groupPids(pgid).length;
  const workers = s.p.readyWorkers().length;
  assert.ok(processes >= 1 + workers, `expected the master and ${workers} workers in group ${pgid}, saw ${processes}`);
  const timer = setTimeout(() => s.p.child.kill('SIGKILL'), 30_000);
  const exit = await s.p.stop('SIGTERM');
  clearTimeout(timer);
  assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${s.p.stderr}`);
  await eventually(() => groupPids(pgid).length === 0, 5000, `no process left in group ${pgid}`).catch(() =>
    assert.fail(
      `left behind: ${groupPids(pgid)
        .map((pid) => `${pid} ${cmdline(pid)}`)
        .join('; ')}`,
    ),
  );
  assert.equal(existsSync(s.socketPath), false, 'the unix socket file is still there');
  return { processes };
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '(gone)';
  }
}

/** The whole check for one app, in order; extra checks run after both workers served. */
export async function checkApp(
  t: TestContext,
  s: Served,
  routes: readonly Route[],
  extra?: (s: Served) => Promise<void>,
): Promise<void> {
  const [first] = routes;
  assert.ok(first);
  await checkRoutes(s, routes);
  await checkBothWorkersServe(s, first);
  if (extra) await extra(s);
  const { ok } = await checkReloadUnderLoad(s, first);
  const { processes } = await checkTermCleansUp(s);
  t.diagnostic(`${ok} requests during the reload, 0 failed; ${processes} processes in the group before TERM`);
}

export { freeBase } from '../helpers/per-worker.js';

/**
 * systemd (KillMode=control-group), a terminal's Ctrl-C and `kill -TERM -- -PGID` signal every
 * process of the group: each worker gets the TERM too, and so do the app's own handlers. With
 * `--shutdown-delay 2` (serveApp's `preforkArgs`), the requests sent during the first 1.5 s
 * should all be answered; the master must still exit 0.
 */
export async function groupTermDuringDelay(
  s: Served,
  route: Route,
): Promise<{ ok: number; failed: number; firstFailure: string }> {
  process.kill(-s.p.pid, 'SIGTERM');
  let ok = 0;
  let failed = 0;
  let firstFailure = '';
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    await route.check(ok % 2 === 0 ? s.tcp : s.unix).then(
      () => (ok += 1),
      (err: Error) => {
        failed += 1;
        firstFailure ||= err.message.slice(0, 200);
      },
    );
  }
  assert.deepEqual(await s.p.exited, { code: 0, signal: null });
  return { ok, failed, firstFailure };
}
