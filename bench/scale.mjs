#!/usr/bin/env node
// npm run bench:scale: how the master's own work grows with the worker count. For each count
// (BENCH_SCALE_COUNTS, default 16,64,256), one prefork serving bench/hello.cjs: time to ready
// (spawn to the master's `ready` line), master RSS and CPU while idle, `status` over the control
// socket and `/metrics` latency (and the master CPU each costs), and a SIGHUP reload of every
// worker under keep-alive load (time to `reload-done`, failed requests, master CPU). Loopback only;
// every phase is bounded. The reload replaces --reload-batch workers at a time: BENCH_RELOAD_BATCH,
// by default one sixteenth of the pool (1 for 16 workers, 16 for 256), so that every reload is 16
// rounds of replacements and the 256-worker one ends in about a minute on 2 cores under load.
// Options (env): BENCH_SCALE_COUNTS, BENCH_SCALE_RUNS (1), BENCH_IDLE_SECONDS (5), BENCH_QUERIES (20).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, freePort, need, rssMb, privateMb, sleep, stopChild } from './lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const COUNTS = (process.env.BENCH_SCALE_COUNTS ?? '16,64,256').split(',').map(Number);
const RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 1);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 20);
const reloadBatch = (workers) => Number(process.env.BENCH_RELOAD_BATCH ?? Math.max(1, Math.round(workers / 16)));
/** No phase may take longer: a boot or reload that has not finished by then fails the run. */
const PHASE_LIMIT_MS = 400_000;

const DIR = mkdtempSync(join(tmpdir(), 'prefork-scale-'));
process.on('exit', () => rmSync(DIR, { recursive: true, force: true }));

/** The master's JSON log lines, each with the time it arrived; waitFor(event) resolves on the first one after now. */
function follow(child) {
  const waiters = [];
  let buffered = '';
  child.stdout.on('data', (d) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.role !== 'master') continue;
      for (const w of [...waiters]) {
        if (entry.event !== w.event) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve({ at: performance.now(), entry });
      }
    }
  });
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`prefork exited (code ${code}) before ${w.event}`));
  });
  return (event) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${event} within ${PHASE_LIMIT_MS} ms`)), PHASE_LIMIT_MS);
      waiters.push({ event, resolve: (v) => (clearTimeout(timer), resolve(v)), reject: (e) => (clearTimeout(timer), reject(e)) });
    });
}

function controlStatus(path) {
  return new Promise((resolve, reject) => {
    const s = net.connect(path, () => s.write('{"cmd":"status"}\n'));
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('end', () => resolve(text.length));
    s.on('error', reject);
  });
}

function metrics(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => resolve(n));
    }).on('error', reject);
  });
}

/** Median latency (ms) of `n` calls in a row, and the master CPU (ms) one call costs. */
async function latency(master, call, n = QUERIES) {
  const times = [];
  const cpu0 = cpuSeconds(master);
  let bytes = 0;
  for (let i = 0; i < n; i += 1) {
    const t = performance.now();
    bytes = await call();
    times.push(performance.now() - t);
  }
  return { ms: median(times), masterCpuMs: ((cpuSeconds(master) - cpu0) * 1000) / n, bytes };
}

/** wrk in the background until stop(): keep-alive load while the workers are replaced. */
function load(port) {
  const child = spawn('wrk', ['-t1', '-c64', `-d${PHASE_LIMIT_MS / 1000}s`, '--timeout', '5s', `http://127.0.0.1:${port}/`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const done = new Promise((r) => child.once('exit', r));
  return {
    async stop() {
      child.kill('SIGINT'); // wrk prints its figures on SIGINT
      await done;
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      const errors = (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
      return { requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0), errors };
    },
  };
}

async function measure(workers) {
  const port = await freePort();
  const metricsPort = await freePort();
  const control = join(DIR, `ctl-${workers}.sock`);
  const started = performance.now();
  const args = [join(ROOT, 'dist/bin/prefork.js'), '-w', String(workers), '-b', `127.0.0.1:${port}`, '--control', control, '--reload-batch', String(reloadBatch(workers))];

  args.push('--metrics-bind', `127.0.0.1:${metricsPort}`, '--log-format', 'json', join(ROOT, 'bench/hello.cjs'));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const waitFor = follow(child);
  try {
    const ready = await waitFor('ready');
    const readyMs = ready.at - started;
    // The master's own share of the start-up: forking, handshakes, one pass per transition.
    const startCpuS = cpuSeconds(child.pid);
    await sleep(2000); // the last workers' start-up settles
    const cpu0 = cpuSeconds(child.pid);
    await sleep(IDLE_SECONDS * 1000);
    const idleCpu = (cpuSeconds(child.pid) - cpu0) / IDLE_SECONDS;
    const idleRss = rssMb(child.pid);
    const idlePrivate = privateMb(child.pid);
    const status = await latency(child.pid, () => controlStatus(control));
    const metric = await latency(child.pid, () => metrics(metricsPort));
    const wrk = load(port);
    await sleep(1000);
    // The master's CPU under the same load with nothing replaced (heartbeats, health ticks), so
    // that what the reload itself costs can be told apart from what the pool costs meanwhile.
    const steadyCpu0 = cpuSeconds(child.pid);
    await sleep(3000);
    const steadyCpu = (cpuSeconds(child.pid) - steadyCpu0) / 3;
    const reloadCpu0 = cpuSeconds(child.pid);
    const hup = performance.now();
    process.kill(child.pid, 'SIGHUP');
    const done = await waitFor('reload-done');
    const reloadMs = done.at - hup;
    const reloadCpu = cpuSeconds(child.pid) - reloadCpu0;
    await sleep(1000);
    const { requests, errors } = await wrk.stop();
    return {
      workers,
      reloadBatch: reloadBatch(workers),
      readyMs,
      startCpuS,
      idleCpu,
      idleRssMb: idleRss,
      idlePrivateMb: idlePrivate,
      statusMs: status.ms,
      statusCpuMs: status.masterCpuMs,
      statusBytes: status.bytes,
      metricsMs: metric.ms,
      metricsCpuMs: metric.masterCpuMs,
      metricsBytes: metric.bytes,
      reloadMs,
      reloadCpuS: reloadCpu,
      steadyCpu,
      reloadOwnCpuS: Math.max(0, reloadCpu - (steadyCpu * reloadMs) / 1000),
      reloadRequests: requests,
      reloadFailed: errors,
    };
  } finally {
    await stopChild(child, 60_000);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  need('wrk', 'wrk');
  const runs = [];
  for (let run = 1; run <= RUNS; run += 1) {
    for (const workers of COUNTS) {
      const r = await measure(workers);
      runs.push({ run, ...r });
      console.error(`run ${run} ${String(workers).padStart(4)} workers: ready ${r.readyMs.toFixed(0)} ms, reload ${r.reloadMs.toFixed(0)} ms, ${r.reloadFailed} failed`);
    }
  }
  const table = COUNTS.map((workers) => {
    const mine = runs.filter((r) => r.workers === workers);
    const row = { workers };
    for (const key of Object.keys(mine[0]).filter((k) => k !== 'run' && k !== 'workers')) {
      row[key] = key === 'reloadFailed' ? mine.reduce((a, r) => a + r[key], 0) : median(mine.map((r) => r[key]));
    }
    return row;
  });
  // Cost per worker between the smallest and the largest pool: what one more worker adds.
  const [first, last] = [table[0], table.at(-1)];
  const per = (key) => (last[key] - first[key]) / (last.workers - first.workers);
  const perWorker = {
    readyMs: per('readyMs'),
    startCpuS: per('startCpuS'),
    idleCpu: per('idleCpu'),
    idleRssMb: per('idleRssMb'),
    statusMs: per('statusMs'),
    metricsMs: per('metricsMs'),
    reloadMs: per('reloadMs'),
    reloadCpuS: per('reloadCpuS'),
    reloadOwnCpuS: per('reloadOwnCpuS'),
  };
  console.log(`\nprefork at scale: ${RUNS} run(s) per count, Node ${process.version}, ${QUERIES} status / metrics queries, reload under wrk -c64 keep-alive\n`);
  console.log('workers  batch  ready s (master CPU)  idle CPU  idle RSS  status ms (CPU)  metrics ms (CPU)  reload s  reload CPU s (own)  failed / requests');
  const fmt = (r) =>
    `${String(r.workers).padStart(7)}  ${String(r.reloadBatch).padStart(5)}  ${(r.readyMs / 1000).toFixed(2).padStart(7)} (${r.startCpuS.toFixed(2)} s)  ${(r.idleCpu * 100).toFixed(2).padStart(6)} %  ${r.idleRssMb.toFixed(1).padStart(5)} MB  ${r.statusMs.toFixed(2).padStart(6)} (${r.statusCpuMs.toFixed(2)})  ${r.metricsMs.toFixed(2).padStart(7)} (${r.metricsCpuMs.toFixed(2)})  ${(r.reloadMs / 1000).toFixed(2).padStart(8)}  ${r.reloadCpuS.toFixed(2).padStart(12)} (${r.reloadOwnCpuS.toFixed(2)})  ${r.reloadFailed} / ${r.reloadRequests}`;
  for (const r of table) console.log(fmt(r));
  console.log(
    `\nper worker more (from ${first.workers} to ${last.workers}): ready +${perWorker.readyMs.toFixed(1)} ms, idle master CPU +${(perWorker.idleCpu * 100).toFixed(4)} % of a core, master RSS +${(perWorker.idleRssMb * 1024).toFixed(0)} KB, status +${(perWorker.statusMs * 1000).toFixed(0)} µs, metrics +${(perWorker.metricsMs * 1000).toFixed(0)} µs, reload +${perWorker.reloadMs.toFixed(1)} ms and +${(perWorker.reloadCpuS * 1000).toFixed(1)} ms of master CPU (+${(perWorker.reloadOwnCpuS * 1000).toFixed(1)} ms beyond the pool's steady cost)`,
  );
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ node: process.version, counts: COUNTS, runsPerCount: RUNS, idleSeconds: IDLE_SECONDS, queries: QUERIES, table, perWorker, runs }, null, 2));
  console.log(`\nsaved ${file}`);
}

await main();
