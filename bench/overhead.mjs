#!/usr/bin/env node
// npm run bench:overhead: what prefork's per-request work costs. The same handler (bench/hello.cjs)
// under bare node:cluster with SCHED_NONE (workers accept from the shared socket, as prefork's do)
// and under prefork, plain and with --access-log or --metrics-bind (the request-duration histogram);
// wrk keep-alive on loopback TCP, interleaved rounds. The figure is the server's CPU per request
// (master and workers, from /proc), which the load generator's share of these cores does not cap
// as it caps req/s; each configuration's figure is also taken as a ratio to cluster-none's in the
// same round (measured next to it), whose median is the headline.
// Two parts: 1 worker, where both servers serve every connection alike, so the difference is the
// per-request work; and 2 workers, where how the kernel spread wrk's 64 connections over the
// workers moves CPU per request as much (a worker holding them all batches more per wakeup), so
// the busiest worker's share is shown beside it, and prefork with --no-balance too.
// Knobs (env): BENCH_SECONDS (5), BENCH_ROUNDS (5), BENCH_WORKERS (both parts: 1 and 2),
// BENCH_ONLY (configurations besides cluster-none, comma-separated).
import { join } from 'node:path';
import { freePort, need } from './lib.mjs';
import { ROOT, interleaved, median, roundRatios, startPrefork, startServer } from './measure.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const HELLO = join(ROOT, 'bench/hello.cjs');

const CONFIGS = {
  'cluster-none': (workers) =>
    startServer(() => [join(ROOT, 'bench/servers/cluster.cjs')], {
      WORKERS: String(workers),
      NODE_CLUSTER_SCHED_POLICY: 'none',
    }),
  prefork: (workers) => startPrefork(HELLO, workers),
  'prefork --no-balance': (workers) => startPrefork(HELLO, workers, ['--no-balance']),
  'prefork --access-log': (workers) => startPrefork(HELLO, workers, ['--access-log']),
  'prefork --metrics-bind': async (workers) =>
    startPrefork(HELLO, workers, ['--metrics-bind', `127.0.0.1:${await freePort()}`]),
};
const PARTS = {
  1: ['prefork', 'prefork --access-log', 'prefork --metrics-bind'],
  2: ['prefork', 'prefork --no-balance'],
};

async function part(workers, wanted) {
  const chosen = {};
  for (const name of ['cluster-none', ...wanted]) chosen[name] = () => CONFIGS[name](workers);
  const runs = await interleaved(chosen, ROUNDS, SECONDS, (r) =>
    console.error(`${workers}w round ${r.round} ${r.name.padEnd(24)} ${r.rps.toFixed(0).padStart(7)} req/s  ${r.cpuUsPerRequest.toFixed(2)} µs/req  busiest ${(r.busiest * 100).toFixed(0)} %  errors ${r.errors}`),
  );
  const prefork = (round) => runs.find((p) => p.name === 'prefork' && p.round === round).cpuUsPerRequest;
  const lines = [`\n${workers} worker(s), wrk -t1 -c64 -d${SECONDS}s keep-alive, ${ROUNDS} interleaved rounds (medians), Node ${process.version}\n`];
  lines.push('config                    req/s  CPU µs/req  × cluster-none  + µs/req over prefork  busiest worker  errors');
  for (const name of Object.keys(chosen)) {
    const mine = runs.filter((r) => r.name === name);
    const rps = median(mine.map((r) => r.rps));
    const cpu = median(mine.map((r) => r.cpuUsPerRequest));
    const ratio = median(roundRatios(runs, name, 'cluster-none', (r) => r.cpuUsPerRequest));
    const added = name === 'prefork' || name === 'cluster-none' ? '' : median(mine.map((r) => r.cpuUsPerRequest - prefork(r.round))).toFixed(2);
    const busiest = workers > 1 ? `${(median(mine.map((r) => r.busiest)) * 100).toFixed(0)} %` : '';
    const errors = mine.reduce((a, r) => a + r.errors, 0);
    lines.push(`${name.padEnd(24)} ${String(Math.round(rps)).padStart(7)}  ${cpu.toFixed(2).padStart(9)}  ${ratio.toFixed(3).padStart(12)}  ${added.padStart(20)}  ${busiest.padStart(14)}  ${String(errors).padStart(6)}`);
  }
  return lines.join('\n');
}

need('wrk', 'wrk');
const only = process.env.BENCH_ONLY?.split(',');
const counts = process.env.BENCH_WORKERS ? [Number(process.env.BENCH_WORKERS)] : [1, 2];
const out = [];
for (const workers of counts) out.push(await part(workers, only ?? PARTS[workers] ?? PARTS[2]));
console.log(out.join('\n'));
