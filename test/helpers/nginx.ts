/**
 * A real nginx (Debian's /usr/sbin/nginx) in front of prefork: the config is derived from a file in
 * examples/ by swapping only what a test must own (the upstream servers, the listen port, every
 * path nginx writes), nginx runs in the foreground with its prefix in a temp dir, and is stopped
 * by pid when the test ends, pass or fail.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { sleep } from './client.js';
import { ROOT, type Target } from './prefork.js';

export const NGINX = '/usr/sbin/nginx';
export const PER_WORKER_EXAMPLE = join(ROOT, 'examples/nginx-per-worker.conf');

const isRoot = (): boolean => process.getuid?.() === 0;

export interface DeriveOptions {
  /** Replaces the `server` lines of every upstream (their parameters kept), e.g. `unix:/tmp/x/web-0.sock`. */
  servers: readonly string[];
  port: number;
  /** nginx's prefix: pid, logs and temp files go here. */
  dir: string;
}

/**
 * The example with the test's sockets, port and paths. The `user` line becomes root's when we are
 * root (the sockets sit in a 0700 temp dir) and goes otherwise (nginx would only warn).
 */
export function deriveConfig(example: string, opts: DeriveOptions): string {
  let done = false;
  const replaced = example.replace(
    /^(\s*)server (unix:\S+|[\d.]+:\d+)([^;\n]*);\n(?:\s*server (?:unix:\S+|[\d.]+:\d+)[^;\n]*;\n)*/gm,
    (_m, indent: string, _a, params: string) => {
      done = true;
      return opts.servers.map((s) => `${indent}server ${s}${params};\n`).join('');
    },
  );
  if (!done) throw new Error('no upstream server lines in the example');
  const paths = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
    (kind) => `    ${kind}_temp_path ${join(opts.dir, `${kind}_temp`)};\n`,
  );
  return replaced
    .replace(/^user .*;\n/m, isRoot() ? 'user root;\n' : '')
    .replace(/^worker_processes .*;\n/m, 'worker_processes 1;\n')
    .replace(/^(\s*)listen \S+;/gm, `$1listen 127.0.0.1:${opts.port};`)
    .replace(/^http \{\n/m, `http {\n    access_log ${join(opts.dir, 'access.log')};\n${paths.join('')}`)
    .replace(
      /^events \{/m,
      `pid ${join(opts.dir, 'nginx.pid')};\nerror_log ${join(opts.dir, 'error.log')};\n\nevents {`,
    );
}

/**
 * `nginx -t` on a file as it is, with only the prefix and the start-up error log in a temp dir. As
 * root that is the whole check (nginx -t binds the listen addresses too, and tolerates one in use);
 * as another user nginx can neither open Debian's default pid and log paths nor bind port 80, so
 * those are swapped for the check.
 */
export function nginxTest(confText: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'prefork-nginx-t-'));
  try {
    let text = confText;
    if (!isRoot()) {
      text = text
        .replace(/^http \{\n/m, `http {\n    access_log ${join(dir, 'access.log')};\n`)
        .replace(/^(\s*)listen 80;/gm, '$1listen 127.0.0.1:8080;');
    }
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, text);
    const pid = isRoot() ? [] : ['-g', `pid ${join(dir, 'nginx.pid')};`];
    const res = spawnSync(NGINX, ['-t', '-p', `${dir}/`, '-e', join(dir, 'error.log'), ...pid, '-c', conf], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    return { ok: res.status === 0, output: `${res.stdout}${res.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Nginx {
  port: number;
  pid: number;
  target: Target;
  dir: string;
  config: string;
  /** nginx's error log so far (for assertion messages). */
  errorLog: () => string;
  stop: () => Promise<void>;
}

const running = new Set<number>();

/** nginx's worker processes: the master's children. */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** SIGKILL a pid and its children, only while it is still an nginx. */
function killNginx(pid: number): void {
  for (const p of [...children(pid), pid]) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('nginx')) process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

process.on('exit', () => {
  for (const pid of running) killNginx(pid);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const connects = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

async function launch(t: TestContext, config: (port: number, dir: string) => string): Promise<Nginx | 'port-taken'> {
  const dir = mkdtempSync(join(tmpdir(), 'prefork-nginx-'));
  const port = await freePort();
  const text = config(port, dir);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, text);
  const child: ChildProcess = spawn(
    NGINX,
    ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const pid = child.pid ?? -1;
  running.add(pid);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  void exited.then(() => running.delete(pid));
  const errorLog = (): string => `${stderr}${readFileSync(join(dir, 'error.log'), { encoding: 'utf8', flag: 'a+' })}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const workers = children(pid);
      child.kill('SIGTERM'); // fast shutdown: the master stops its workers, then exits
      const timedOut = await Promise.race([exited.then(() => false), sleep(5000).then(() => true)]);
      if (timedOut) killNginx(pid);
      for (const w of workers) killNginx(w);
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  t.after(stop);
  const deadline = Date.now() + 10_000;
  while (!(await connects(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = errorLog();
      await stop();
      if (/Address already in use/.test(log)) return 'port-taken';
      throw new Error(`nginx did not start on 127.0.0.1:${port}:\n${log}`);
    }
    await sleep(20);
  }
  return { port, pid, dir, config: text, target: { host: '127.0.0.1', port }, errorLog, stop };
}

/**
 * Starts nginx on a free loopback port with a config derived from `example` (the per-worker one by
 * default), and resolves once it accepts connections. Retries with another port if one was taken
 * between choosing and binding it.
 */
export async function startNginx(
  t: TestContext,
  servers: readonly string[],
  example: string = PER_WORKER_EXAMPLE,
): Promise<Nginx> {
  const text = readFileSync(example, 'utf8');
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const started = await launch(t, (port, dir) => deriveConfig(text, { servers, port, dir }));
    if (started !== 'port-taken') return started;
  }
  throw new Error('nginx found no free port in 3 attempts');
}
