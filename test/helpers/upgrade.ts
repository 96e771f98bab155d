/**
 * Hot upgrade helpers. The harness tracks the process it started (the first master); the new
 * master of a hot upgrade is that one's child, then an orphan. Its pid comes from the old
 * master's `upgrade-started` line, and it is killed (by pid, with its workers) when the test ends.
 * Its log lines arrive on the same stdout, so `p.logs` holds both masters' lines: the `pid` field
 * tells them apart.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  CLI,
  type LoadResult,
  type LogLine,
  type Prefork,
  eventually,
  isAlive,
  killOurs,
  tempDir,
  track,
} from './prefork.js';

const masters = new Set<number>();
process.on('exit', () => masters.forEach(killOurs));

/** Waits for a log line from any master of the chain (waitForLog gives up once the first master exits). */
export async function waitLog(
  p: Prefork,
  pred: (l: LogLine) => boolean,
  timeoutMs = 15_000,
  what = 'log line',
): Promise<LogLine> {
  let found: LogLine | undefined;
  await eventually(
    () => (found = p.logs.find(pred)) !== undefined,
    timeoutMs,
    `${what}\nlogs:\n${p.stdout.slice(-3000)}\nstderr: ${p.stderr}`,
  );
  return found!;
}

/** SIGUSR2 to `master` (default: the first one); resolves with the new master's pid, killed after the test. */
export async function upgrade(t: TestContext, p: Prefork, master: number = p.pid): Promise<number> {
  const seen = p.logs.filter((l) => l.event === 'upgrade-started' && l.pid === master).length;
  process.kill(master, 'SIGUSR2');
  await eventually(
    () => p.logs.filter((l) => l.event === 'upgrade-started' && l.pid === master).length > seen,
    10_000,
    `upgrade-started from ${master}\n${p.stdout.slice(-2000)}`,
  );
  const started = p.logs.filter((l) => l.event === 'upgrade-started' && l.pid === master).at(-1)!;
  const pid = Number(started.newPid);
  masters.add(pid);
  t.after(() => {
    killOurs(pid);
    for (const l of p.logs)
      if (l.event === 'worker' && typeof l.workerPid === 'number' && isAlive(l.workerPid)) killOurs(l.workerPid);
  });
  return pid;
}

/** Children of a live process (a master's workers). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** TERM to a master we did not start ourselves; resolves with its `stopped` line once it is gone. */
export async function stopMaster(p: Prefork, pid: number): Promise<LogLine> {
  process.kill(pid, 'SIGTERM');
  const stopped = await waitLog(p, (l) => l.event === 'stopped' && l.pid === pid, 20_000, `master ${pid} to stop`);
  await eventually(() => !isAlive(pid), 5000, `master ${pid} to exit`);
  return stopped;
}

// ── symlink deploys: DIR/current -> DIR/releases/N ─────────────────────────────────────────

export const versionApp = (version: string): string =>
  `module.exports = (req, res) => res.end(JSON.stringify({ pid: process.pid, version: ${JSON.stringify(version)}, release: process.env.RELEASE_CLI ?? null, cwd: process.cwd(), execPath: process.execPath, execArgv: process.execArgv }));\n`;

/**
 * A release as a deploy tool lays it out: the app, a `bin/node` (a hard link to this Node, so
 * /proc/PID/exe and process.execPath name the release's path), and `cli.mjs`, the release's own
 * "prefork code": it marks the environment with its release, then runs the built CLI.
 */
export function makeRelease(dir: string, n: string, files: { app?: string; cli?: string } = {}): string {
  const root = join(dir, 'releases', n);
  mkdirSync(join(root, 'bin'), { recursive: true });
  writeFileSync(join(root, 'app.cjs'), files.app ?? versionApp(n));
  writeFileSync(
    join(root, 'cli.mjs'),
    files.cli ??
      `process.env.RELEASE_CLI = ${JSON.stringify(n)};\nawait import(${JSON.stringify(pathToFileURL(CLI).href)});\n`,
  );
  try {
    linkSync(process.execPath, join(root, 'bin', 'node'));
  } catch {
    copyFileSync(process.execPath, join(root, 'bin', 'node'));
    chmodSync(join(root, 'bin', 'node'), 0o755);
  }
  return root;
}

/**
 * A deploy directory with releases 1 and 2 (`second` may alter release 2's files) and
 * current -> releases/1; returns it by its real path.
 */
export function twoReleases(t: TestContext, second: (root: string) => void = () => {}): string {
  const dir = realpathSync(tempDir(t));
  makeRelease(dir, '1');
  second(makeRelease(dir, '2'));
  deploy(dir, '1');
  return dir;
}

/** Points DIR/current at release N, atomically (a new link renamed over the old one). */
export function deploy(dir: string, n: string): void {
  symlinkSync(join(dir, 'releases', n), join(dir, 'current.new'));
  renameSync(join(dir, 'current.new'), join(dir, 'current'));
}

/** `cd DIR/current && bin/node [nodeFlags] cli.mjs ARGS`, as a unit's ExecStart would, with $PWD set. */
export function startRelease(
  t: TestContext,
  dir: string,
  args: readonly string[],
  nodeFlags: readonly string[] = [],
): Prefork {
  const current = join(dir, 'current');
  const child = spawn('bin/node', [...nodeFlags, 'cli.mjs', ...args], {
    cwd: current,
    env: { ...process.env, PWD: current, PREFORK_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(t, child);
}

// ── load results across an upgrade ─────────────────────────────────────────────────────────

export const failures = (r: LoadResult): string => JSON.stringify([...r.failures]);
export const servedBy = (r: LoadResult, pids: Iterable<number>): number =>
  [...pids].reduce((sum, pid) => sum + (r.pids.get(pid) ?? 0), 0);
