/**
 * The end-to-end harness: starts the built CLI as a real process, reads its JSON log lines, talks
 * to it over real sockets, and kills what it started (by pid) when the test ends, pass or fail.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PACKAGE_ROOT } from '../../src/shared/package-paths.js';
import { sleep } from './client.js';

export const ROOT = PACKAGE_ROOT;
export const CLI = join(ROOT, 'dist/bin/prefork.js');
export const APPS = join(ROOT, 'test/fixtures/apps');
export const app = (name: string): string => join(APPS, name);

export type LogLine = Record<string, unknown> & { event?: string; msg?: string; pid?: number };

export interface Target {
  host?: string;
  port?: number;
  socketPath?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Extra stdio entries after stdin/stdout/stderr: inherited descriptors for fd:// binds. */
  extraFds?: number[];
  /** Read log lines from this file (by name, like `tail -F`) as well as from stdout: for --log-file. */
  logFile?: string;
}

const started = new Set<ChildProcess>();
const workerPids = new Set<number>();

/** True while the process runs; a zombie (exited, not yet reaped by its new parent) is gone. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Kill a pid only if it is still one of ours: a prefork process (titled "prefork …"), or a worker
 * so new it still has node's command line (the bundled or the unbundled worker entry), not a
 * recycled pid. True when it was killed.
 */
export function killOurs(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!/prefork|worker\/main\.js|bin\/worker\.js/.test(cmdline)) return false;
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false; // already gone
  }
}

process.on('exit', () => {
  for (const child of started) if (child.pid !== undefined) killOurs(child.pid);
  for (const pid of workerPids) killOurs(pid);
});

export class Prefork {
  readonly logs: LogLine[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  #waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];

  constructor(
    readonly child: ChildProcess,
    logFile?: string,
  ) {
    started.add(child);
    let pending = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.#onLine(line);
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
    void this.exited.then(() => started.delete(child));
    if (logFile !== undefined) this.#follow(logFile);
  }

  /**
   * Tails a log file by name, starting over when the name points to a new file (a rotation).
   * Lines written to a file after it was renamed away are not seen here: tests read those files.
   */
  #follow(file: string): void {
    let inode = -1;
    let offset = 0;
    let pending = '';
    const poll = (): void => {
      const stat = statSync(file, { throwIfNoEntry: false });
      if (stat === undefined) return;
      if (stat.ino !== inode) [inode, offset, pending] = [stat.ino, 0, ''];
      if (stat.size <= offset) return;
      const buffer = Buffer.alloc(stat.size - offset);
      const fd = openSync(file, 'r');
      try {
        offset += readSync(fd, buffer, 0, buffer.length, offset);
      } finally {
        closeSync(fd);
      }
      const lines = (pending + buffer.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.#onLine(line);
    };
    const timer = setInterval(poll, 20);
    // Registered before any waiter's: the last lines are read before a waiter gives up on exit.
    void this.exited.then(() => {
      clearInterval(timer);
      poll();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  #onLine(line: string): void {
    if (line.trim() === '') return;
    let entry: LogLine;
    try {
      entry = JSON.parse(line) as LogLine;
    } catch {
      entry = { msg: line, event: 'non-json' };
    }
    if (entry.event === 'worker' && typeof entry.workerPid === 'number') workerPids.add(entry.workerPid);
    this.logs.push(entry);
    this.#waiters = this.#waiters.filter((w) => (w.pred(entry) ? (w.resolve(entry), false) : true));
  }

  /** Resolves with the first log line (already seen or still to come) that matches. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 10_000, what = 'log line'): Promise<LogLine> {
    const seen = this.logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}\nstderr: ${this.stderr}\nlogs:\n${this.stdout.slice(-4000)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void this.exited.then(() => {
        if (!this.logs.some(pred)) {
          clearTimeout(timer);
          reject(
            new Error(
              `prefork exited while waiting for ${what}\nstderr: ${this.stderr}\nlogs:\n${this.stdout.slice(-4000)}`,
            ),
          );
        }
      });
    });
  }

  waitForEvent(event: string, extra: (l: LogLine) => boolean = () => true, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitForLog((l) => l.event === event && extra(l), timeoutMs, `event "${event}"`);
  }

  /** Waits for "ready" (every initial worker serving) and returns the first address as a Target. */
  async ready(timeoutMs = 15_000): Promise<Target> {
    await this.waitForEvent('ready', () => true, timeoutMs);
    return this.targets()[0] ?? {};
  }

  /** Every address the master listens on, in bind order. */
  targets(): Target[] {
    return this.logs.filter((l) => l.event === 'listening').map((l) => toTarget(String(l.address)));
  }

  /** Pids of the workers the master currently counts as ready. */
  readyWorkers(): number[] {
    const state = new Map<number, string>();
    for (const l of this.logs)
      if (l.event === 'worker' && l.role === 'master') state.set(Number(l.workerPid), String(l.state));
    return [...state].filter(([, s]) => s === 'ready').map(([pid]) => pid);
  }

  workerEvents(state: string): LogLine[] {
    return this.logs.filter((l) => l.event === 'worker' && l.state === state);
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
    return this.exited;
  }
}

export function toTarget(address: string): Target {
  if (address.startsWith('unix:')) return { socketPath: address.slice('unix:'.length) };
  const url = new URL(address.split(' ')[0] ?? address);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) };
}

/** Starts `node dist/bin/prefork.js ...args`, JSON logs, killed after the test whatever happens. */
export function startPrefork(t: TestContext, args: readonly string[], opts: StartOptions = {}): Prefork {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, PREFORK_LOG_FORMAT: 'json', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.extraFds ?? [])],
  });
  return track(t, child, { logFile: opts.logFile });
}

/**
 * Wraps a prefork started in any way (directly, under a wrapper, by systemd-socket-activate) and
 * kills it after the test, pass or fail, with the workers it logged — unless their pids are from
 * another PID namespace, where they would name unrelated processes here.
 */
export function track(
  t: TestContext,
  child: ChildProcess,
  opts: { logFile?: string; workerPidsAreOurs?: boolean } = {},
): Prefork {
  const p = new Prefork(child, opts.logFile);
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await p.exited;
    }
    if (opts.workerPidsAreOurs === false) return;
    const killed = p.logs.filter(
      (l) => l.event === 'worker' && typeof l.workerPid === 'number' && killOurs(l.workerPid),
    );
    // Gone before the test's temporary directory is: a worker outliving its master would write there.
    const deadline = Date.now() + 2000;
    while (killed.some((l) => isAlive(l.workerPid as number)) && Date.now() < deadline) await sleep(10);
  };
  const kills = killsOf.get(t) ?? [];
  killsOf.set(t, [...kills, kill]);
  t.after(kill);
  return p;
}

/**
 * What kills the processes a test started. A test's temporary directory goes only after them
 * (tempDir()): a master still running would write into it meanwhile (a worker it boots reopens
 * the log file there), the removal would fail with ENOTEMPTY, and node:test would then skip the
 * test's later hooks, the kill among them, leaving the master running and the test file hanging.
 */
const killsOf = new WeakMap<TestContext, Array<() => Promise<void>>>();

/** Runs the CLI to completion (for bad-input and --check-config cases). */
export async function runPrefork(
  t: TestContext,
  args: readonly string[],
  opts: StartOptions = {},
): Promise<Exit & { stdout: string; stderr: string; logs: LogLine[] }> {
  const p = startPrefork(t, args, opts);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  const exit = await p.exited;
  clearTimeout(timer);
  if (exit.signal === 'SIGKILL') throw new Error(`prefork ${args.join(' ')} did not exit by itself within 20 s`);
  return { ...exit, stdout: p.stdout, stderr: p.stderr, logs: p.logs };
}

export function tempDir(t: TestContext, prefix = 'prefork-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(async () => {
    for (const kill of killsOf.get(t) ?? []) await kill();
    // A worker forked in the instant before its master was killed is not in the logs yet; it
    // finds the master gone and exits on its own, and may write its log file meanwhile.
    rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  });
  return dir;
}

export {
  type LoadOptions,
  type LoadResult,
  type Reply,
  type RequestOptions,
  distinctPids,
  eventually,
  load,
  request,
  sleep,
} from './client.js';

/** Replays the master's worker transitions: the fewest workers ready at once after `ready`. */
export function minReadyAfterStart(logs: readonly LogLine[]): number {
  const ready = new Set<number>();
  let started = false;
  let min = Number.POSITIVE_INFINITY;
  for (const l of logs) {
    if (l.role !== 'master') continue;
    if (l.event === 'ready') started = true;
    if (l.event === 'stopping') break;
    if (l.event !== 'worker') continue;
    if (l.state === 'ready') ready.add(Number(l.workerPid));
    else ready.delete(Number(l.workerPid));
    if (started) min = Math.min(min, ready.size);
  }
  return min;
}

/** Replays the master's log: the most workers booting at once after the pool first became ready. */
export function maxBootingAfterStart(logs: readonly LogLine[]): number {
  const booting = new Set<number>();
  let started = false;
  let max = 0;
  for (const l of logs) {
    if (l.role !== 'master') continue;
    if (l.event === 'ready') started = true;
    if (l.event !== 'worker') continue;
    if (l.state === 'booting') booting.add(Number(l.workerPid));
    else booting.delete(Number(l.workerPid));
    if (started) max = Math.max(max, booting.size);
  }
  return max;
}

/** Every line of a log file, parsed; a line that is not JSON (two writes mixed up) fails the test. */
export function logEntries(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`not a JSON line in ${file}: ${line.slice(0, 200)}`);
      }
    });
}

/** Runs `prefork <command...>` (a control client) to completion. */
export function runClient(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A listening TCP socket on 127.0.0.1 made by this test, for prefork to inherit as fd 3
 * (`-b fd://3`, with `{ extraFds: [fd] }`). close() gives up the test's own copy, so from then
 * on only prefork holds the socket.
 */
export async function inheritableSocket(
  t: TestContext,
): Promise<{ fd: number; port: number; close: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  return { fd, port, close: () => new Promise((done) => server.close(() => done())) };
}
