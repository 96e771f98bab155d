// What bench/fetch.mjs and bench/overhead.mjs share: start a server, load it with wrk over loopback
// TCP keep-alive, and count the CPU its processes (master and workers) spent, from /proc.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { children, cpuSeconds, freePort, get, runWrk, sleep, stopChild } from './lib.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Starts `node ARGS(port)` on a free loopback port (also in its environment as PORT), waits for a
 * 200 on it, and returns { port, pid, stop }. The command's children are its workers.
 */
export async function startServer(args, env = {}) {
  const port = await freePort();
  const argv = args(port);
  const child = spawn(process.execPath, argv, { env: { ...process.env, PORT: String(port), ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 20_000;
  while (!(await get({ port }))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stopChild(child);
      throw new Error(`${argv.join(' ')}: nothing answered on port ${port}`);
    }
    await sleep(10);
  }
  return { port, pid: child.pid, stop: () => stopChild(child) };
}

/** The built CLI: prefork -w WORKERS -b 127.0.0.1:PORT [EXTRA] APP. */
export function startPrefork(app, workers, extra = [], nodeArgs = []) {
  const cli = join(ROOT, 'dist/bin/prefork.js');
  return startServer((port) => [...nodeArgs, cli, '-w', String(workers), '-b', `127.0.0.1:${port}`, '--log-level', 'warn', ...extra, app]);
}

/** wrk -t1 keep-alive for `seconds` on a loopback port (lib.mjs's runWrk). */
export const wrk = (port, { seconds, connections = 64 }) => runWrk({ port }, { seconds, connections });

/**
 * `seconds` of load on a started server, with the CPU its processes (the command and its
 * children) spent, per request in µs, and the busiest worker's share of it.
 */
export async function measureRun(server, seconds) {
  const pids = [server.pid, ...children(server.pid)];
  const before = pids.map(cpuSeconds);
  const r = await wrk(server.port, { seconds });
  const spent = pids.map((pid, i) => cpuSeconds(pid) - before[i]);
  const cpu = spent.reduce((a, b) => a + b, 0);
  const workers = spent.slice(1);
  // The busiest worker's share of the workers' CPU: how evenly the connections landed.
  const busiest = Math.max(...workers) / workers.reduce((a, b) => a + b, 0);
  return { ...r, busiest, cpuUsPerRequest: r.requests > 0 ? (cpu / r.requests) * 1e6 : NaN };
}

/**
 * Starts every configuration (name -> start()), warms each up with 2 s of load, then runs
 * `rounds` rounds in which each is measured once, in turn, the order reversed every other round:
 * measurements next to each other in time see the same machine, which on a shared host matters
 * more than anything else. Returns every run, with `round`, and stops the servers.
 */
export async function interleaved(configs, rounds, seconds, onRun = () => {}) {
  const servers = {};
  const runs = [];
  try {
    for (const [name, start] of Object.entries(configs)) servers[name] = await start();
    for (const server of Object.values(servers)) await wrk(server.port, { seconds: 2 });
    for (let round = 1; round <= rounds; round += 1) {
      const names = Object.keys(configs);
      if (round % 2 === 0) names.reverse();
      for (const name of names) {
        const run = { round, name, ...(await measureRun(servers[name], seconds)) };
        runs.push(run);
        onRun(run);
      }
    }
  } finally {
    for (const server of Object.values(servers)) await server.stop();
  }
  return runs;
}

/** Per round, value(config) / value(base): the ratios of measurements taken next to each other. */
export function roundRatios(runs, name, base, value) {
  const ratios = [];
  for (const r of runs.filter((x) => x.name === name)) {
    const b = runs.find((x) => x.name === base && x.round === r.round);
    if (b) ratios.push(value(r) / value(b));
  }
  return ratios;
}
