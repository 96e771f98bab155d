#!/usr/bin/env node
// npm run bench: prefork against a single Node process, bare node:cluster (round robin and
// SCHED_NONE) and PM2 cluster mode, same handler, same load generator (wrk), interleaved rounds
// so drift hits every configuration alike. Loopback only; every load is bounded in time.
// See bench/README.md for what each figure means. Options (env): BENCH_SECONDS (5), BENCH_ROUNDS (2),
// BENCH_WORKERS (2), BENCH_CONNECTIONS (64), BENCH_CLOSE_THREADS (2: wrk threads for the Connection: close
// scenarios, where one wrk thread cannot keep 2 cores busy; keep-alive uses one thread),
// BENCH_SCENARIOS and BENCH_CONFIGS (comma-separated subsets; default all), BENCH_CHANGES (0 skips
// the replacement runs; the plot is drawn only from a run with everything).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePlot } from './plot.mjs';
import { children, cpuSeconds, freePort, need, privateMb, rssMb, runWrk, sleep, stopChild, waitReady } from './lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
// Under Connection: close, each request costs the load generator a connect and a close in the
// kernel: a single wrk thread then left 10-15 % of this host idle for the faster servers, so it,
// not the server, set their req/s. Keep-alive saturates the host with one thread, and a second
// would only take CPU from the servers.
const CLOSE_THREADS = Number(process.env.BENCH_CLOSE_THREADS ?? 2);
const PM2 = join(ROOT, 'node_modules/pm2/bin/pm2');

/** Where a configuration listens: a loopback TCP port, or a unix socket path. */
let nextSock = 0;
const SOCK_DIR = mkdtempSync(join(tmpdir(), 'prefork-bench-'));
process.on('exit', () => rmSync(SOCK_DIR, { recursive: true, force: true }));

async function address(transport) {
  return transport === 'unix' ? { sock: join(SOCK_DIR, `s${(nextSock += 1)}.sock`) } : { port: await freePort() };
}

const envFor = (addr) => (addr.sock ? { SOCK: addr.sock } : { PORT: String(addr.port) });
const bindFor = (addr) => (addr.sock ? `unix:${addr.sock}` : `127.0.0.1:${addr.port}`);

const CONFIGS = {
  single: {
    label: 'single node process',
    async start(addr) {
      const child = spawn(process.execPath, [join(ROOT, 'bench/servers/single.cjs')], { env: { ...process.env, ...envFor(addr) }, stdio: 'ignore' });
      return { master: child.pid, workers: () => [child.pid], stop: () => stopChild(child) };
    },
  },
  'cluster-rr': {
    label: 'node:cluster round robin',
    async start(addr) {
      const child = spawn(process.execPath, [join(ROOT, 'bench/servers/cluster.cjs')], { env: { ...process.env, ...envFor(addr), WORKERS: String(WORKERS), NODE_CLUSTER_SCHED_POLICY: 'rr' }, stdio: 'ignore' });
      return { master: child.pid, workers: () => children(child.pid), stop: () => stopChild(child) };
    },
  },
  'cluster-none': {
    label: 'node:cluster SCHED_NONE',
    async start(addr) {
      const child = spawn(process.execPath, [join(ROOT, 'bench/servers/cluster.cjs')], { env: { ...process.env, ...envFor(addr), WORKERS: String(WORKERS), NODE_CLUSTER_SCHED_POLICY: 'none' }, stdio: 'ignore' });
      return { master: child.pid, workers: () => children(child.pid), stop: () => stopChild(child) };
    },
  },
  prefork: {
    label: 'prefork',
    async start(addr, extra = []) {
      const child = spawn(process.execPath, [join(ROOT, 'dist/bin/prefork.js'), '-w', String(WORKERS), '-b', bindFor(addr), '--log-level', 'warn', ...extra, join(ROOT, 'bench/hello.cjs')], { stdio: 'ignore' });
      return { master: child.pid, workers: () => children(child.pid), stop: () => stopChild(child), child };
    },
  },
  pm2: {
    label: 'PM2 cluster mode',
    async start(addr) {
      const home = mkdtempSync(join(tmpdir(), 'prefork-bench-pm2-'));
      const env = { ...process.env, PM2_HOME: home, ...envFor(addr) };
      execFileSync(process.execPath, [PM2, 'start', join(ROOT, 'bench/servers/pm2-app.cjs'), '-i', String(WORKERS), '--name', 'bench'], { env, stdio: 'ignore' });
      const daemon = Number(readFileSync(join(home, 'pm2.pid'), 'utf8'));
      return {
        master: daemon,
        workers: () => children(daemon),
        reload: () => execFileSync(process.execPath, [PM2, 'reload', 'bench'], { env, stdio: 'ignore' }),
        async stop() {
          execFileSync(process.execPath, [PM2, 'kill'], { env, stdio: 'ignore' });
          rmSync(home, { recursive: true, force: true });
        },
      };
    },
  },
};

/** One wrk run of this benchmark's defaults (see lib.mjs). */
const wrk = (addr, opts = {}) => runWrk(addr, { seconds: SECONDS, connections: CONNECTIONS, shim: SHIM, ...opts });

const SCENARIOS = {
  'keep-alive': { transport: 'tcp', close: false, threads: 1 },
  close: { transport: 'tcp', close: true, threads: CLOSE_THREADS },
  'unix keep-alive': { transport: 'unix', close: false, threads: 1 },
  'unix close': { transport: 'unix', close: true, threads: CLOSE_THREADS },
};

async function measure(name, scenario) {
  const { transport, close, threads } = SCENARIOS[scenario];
  const addr = await address(transport);
  const started = performance.now();
  const server = await CONFIGS[name].start(addr);
  await waitReady(addr);
  const coldMs = performance.now() - started;
  await wrk(addr, { seconds: 1, close, threads }); // warm-up
  const workers = server.workers();
  const cpuBefore = cpuSeconds(server.master);
  const workerCpuBefore = workers.map(cpuSeconds);
  const r = await wrk(addr, { close, threads });
  const masterSeconds = cpuSeconds(server.master) - cpuBefore;
  const masterCpu = masterSeconds / SECONDS;
  const workerCpu = workers.map((pid, i) => cpuSeconds(pid) - workerCpuBefore[i]);
  const totalWorkerCpu = workerCpu.reduce((a, b) => a + b, 0);
  const busiest = name === 'single' || totalWorkerCpu === 0 ? 1 : Math.max(...workerCpu) / totalWorkerCpu;
  // What the whole server (master and workers) spends per request: the load generator's own
  // ceiling on these 2 cores does not cap it, so it compares supervisors where req/s cannot.
  const serverSeconds = name === 'single' ? masterSeconds : masterSeconds + totalWorkerCpu;
  const cpuUsPerRequest = r.requests > 0 ? (serverSeconds / r.requests) * 1e6 : NaN;
  const masterRss = rssMb(server.master);
  const masterPrivate = privateMb(server.master);
  await server.stop();
  return { config: name, scenario, rps: r.rps, p50: r.p50, p99: r.p99, errors: r.errors, hostIdle: r.hostIdle, masterCpu, masterRss, masterPrivate, busiest, coldMs, cpuUsPerRequest };
}

/** The keys of `all` that the comma-separated env variable names (all of them when unset); exits 2 on an unknown one. */
function subset(variable, all) {
  const given = (process.env[variable] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = given.filter((k) => !(k in all));
  if (unknown.length > 0) {
    console.error(`${variable}: unknown ${unknown.join(', ')} (expected some of: ${Object.keys(all).join(', ')})`);
    process.exit(2);
  }
  return given.length > 0 ? Object.keys(all).filter((k) => given.includes(k)) : Object.keys(all);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Failed requests and p99 while workers are replaced under keep-alive load. */
async function underChange(label, start, change, changeAtMs = 2000) {
  const addr = await address('tcp');
  const server = await start(addr);
  await waitReady(addr);
  await wrk(addr, { seconds: 1 });
  const steady = await wrk(addr, { seconds: 3 });
  const running = wrk(addr, { seconds: 6 });
  await sleep(changeAtMs);
  await change(server);
  const r = await running;
  await server.stop();
  return { label, requests: r.requests, errors: r.errors, p99: r.p99, steadyP99: steady.p99, p99Ratio: r.p99 / steady.p99 };
}

const SHIM = join(SOCK_DIR, 'unix-shim.so');

async function main() {
  need('wrk', 'wrk');
  need('cc', 'gcc');
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', SHIM, join(ROOT, 'bench/unix-shim.c'), '-ldl']);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const names = subset('BENCH_CONFIGS', CONFIGS);
  const scenarios = subset('BENCH_SCENARIOS', SCENARIOS);
  const runs = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const scenario of scenarios) {
      for (const name of names) {
        const r = await measure(name, scenario);
        runs.push({ round, ...r });
        console.error(`round ${round} ${scenario.padEnd(15)} ${name.padEnd(13)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}`);
      }
    }
  }
  const table = [];
  for (const scenario of scenarios) {
    const base = median(runs.filter((r) => r.config === 'cluster-rr' && r.scenario === scenario).map((r) => r.rps));
    for (const name of names) {
      const mine = runs.filter((r) => r.config === name && r.scenario === scenario);
      const rps = median(mine.map((r) => r.rps));
      table.push({
        scenario,
        config: name,
        rps: Math.round(rps),
        p50: median(mine.map((r) => r.p50)),
        p99: median(mine.map((r) => r.p99)),
        vsCluster: rps / base,
        errors: mine.reduce((a, r) => a + r.errors, 0),
        hostIdle: median(mine.map((r) => r.hostIdle)),
        masterCpu: median(mine.map((r) => r.masterCpu)),
        masterRssMb: median(mine.map((r) => r.masterRss)),
        masterPrivateMb: median(mine.map((r) => r.masterPrivate)),
        cpuUsPerRequest: median(mine.map((r) => r.cpuUsPerRequest)),
        busiestWorker: median(mine.map((r) => r.busiest)),
        coldStartMs: median(mine.map((r) => r.coldMs)),
      });
    }
  }
  const pm2Rps = (scenario) => table.find((r) => r.config === 'pm2' && r.scenario === scenario)?.rps ?? NaN;
  const pm2Cpu = (scenario) => table.find((r) => r.config === 'pm2' && r.scenario === scenario)?.cpuUsPerRequest ?? NaN;
  for (const row of table) {
    row.vsPm2 = row.rps / pm2Rps(row.scenario);
    // How many times less CPU than PM2 a request costs (PM2's daemon and workers together).
    row.cpuVsPm2 = pm2Cpu(row.scenario) / row.cpuUsPerRequest;
  }

  const full = process.env.BENCH_CHANGES !== '0' && names.length === Object.keys(CONFIGS).length && scenarios.length === Object.keys(SCENARIOS).length;
  if (process.env.BENCH_CHANGES !== '0') console.error('replacement under keep-alive load ...');
  const changes = process.env.BENCH_CHANGES === '0' ? [] : [
    await underChange('prefork --max-requests 100', (addr) => CONFIGS.prefork.start(addr, ['--max-requests', '100']), async () => {}),
    await underChange('prefork SIGHUP reload', (addr) => CONFIGS.prefork.start(addr), async (s) => {
      process.kill(s.master, 'SIGHUP');
    }),
    await underChange('node:cluster rolling restart', (addr) => CONFIGS['cluster-rr'].start(addr), async (s) => {
      process.kill(s.master, 'SIGHUP');
    }),
    await underChange('PM2 reload', (addr) => CONFIGS.pm2.start(addr), async (s) => s.reload()),
  ];

  console.log(`\nprefork bench: ${WORKERS} workers, wrk -c${CONNECTIONS} -d${SECONDS}s (-t1 keep-alive, -t${CLOSE_THREADS} close), median of ${ROUNDS} interleaved rounds, Node ${process.version}\n`);
  console.log('scenario        config          req/s     p50 ms   p99 ms   ×cluster  ×PM2   errors  host idle  CPU µs/req  ÷PM2  master CPU  master RSS (private)  busiest worker  cold start');
  for (const r of table) {
    console.log(
      `${r.scenario.padEnd(15)} ${r.config.padEnd(14)} ${String(r.rps).padStart(7)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}   ${r.vsCluster.toFixed(2).padStart(6)}  ${r.vsPm2.toFixed(2).padStart(5)}  ${String(r.errors).padStart(6)}  ${(r.hostIdle * 100).toFixed(1).padStart(7)} %  ${r.cpuUsPerRequest.toFixed(1).padStart(9)}  ${r.cpuVsPm2.toFixed(2).padStart(5)}  ${(r.masterCpu * 100).toFixed(1).padStart(8)} %  ${r.masterRssMb.toFixed(1).padStart(7)} MB (${r.masterPrivateMb.toFixed(1).padStart(4)} MB)  ${(r.busiestWorker * 100).toFixed(0).padStart(12)} %  ${r.coldStartMs.toFixed(0).padStart(7)} ms`,
    );
  }
  if (changes.length > 0) console.log('\nreplacing workers under keep-alive load (6 s run, change at 2 s):');
  for (const c of changes) {
    console.log(`${c.label.padEnd(28)} requests ${String(c.requests).padStart(7)}  failed ${String(c.errors).padStart(4)}  p99 ${c.p99.toFixed(2)} ms (steady ${c.steadyP99.toFixed(2)} ms, ×${c.p99Ratio.toFixed(2)})`);
  }
  const file = join(ROOT, 'bench/results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ node: process.version, workers: WORKERS, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, closeThreads: CLOSE_THREADS, table, changes, runs }, null, 2));
  console.log(`\nsaved ${file}`);
  if (full) console.log(`plot: ${writePlot(file)}`);
}

await main();
