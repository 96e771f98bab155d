#!/usr/bin/env node
// npm run bench:overhead: what prefork's per-request work costs. The same handler (bench/hello.cjs)
// under bare node:cluster with SCHED_NONE (workers accept from the shared socket, as prefork's do)
// and under prefork, plain and with --access-log or --metrics-bind (the request-duration histogram)
// on; wrk keep-alive on loopback TCP, interleaved rounds. The figure is the server's CPU per
// request (master and workers, from /proc), which the load generator's share of these cores does
// not cap as it caps req/s. Knobs (env): BENCH_SECONDS (5), BENCH_ROUNDS (5), BENCH_WORKERS (2).
import { join } from 'node:path';
import { freePort, need } from './lib.mjs';
import { ROOT, measureRun, median, startPrefork, startServer } from './measure.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const HELLO = join(ROOT, 'bench/hello.cjs');

const CONFIGS = {
  'cluster-none': () =>
    startServer(() => [join(ROOT, 'bench/servers/cluster.cjs')], {
      WORKERS: String(WORKERS),
      NODE_CLUSTER_SCHED_POLICY: 'none',
    }),
  prefork: () => startPrefork(HELLO, WORKERS),
  'prefork --access-log': () => startPrefork(HELLO, WORKERS, ['--access-log']),
  'prefork --metrics-bind': async () => startPrefork(HELLO, WORKERS, ['--metrics-bind', `127.0.0.1:${await freePort()}`]),
};
const only = process.env.BENCH_ONLY?.split(',');
const names = Object.keys(CONFIGS).filter((n) => only === undefined || only.includes(n));

need('wrk', 'wrk');
const runs = [];
for (let round = 1; round <= ROUNDS; round += 1) {
  for (const name of names) {
    const server = await CONFIGS[name]();
    const r = await measureRun(server, SECONDS);
    await server.stop();
    runs.push({ round, name, ...r });
    console.error(`round ${round} ${name.padEnd(24)} ${r.rps.toFixed(0).padStart(7)} req/s  ${r.cpuUsPerRequest.toFixed(2)} µs/req  errors ${r.errors}`);
  }
}
const cpu = (name) => median(runs.filter((r) => r.name === name).map((r) => r.cpuUsPerRequest));
const base = cpu('cluster-none');
const plain = cpu('prefork');
console.log(`\n${WORKERS} workers, wrk -t1 -c64 -d${SECONDS}s keep-alive, median of ${ROUNDS} interleaved rounds, Node ${process.version}\n`);
console.log('config                    req/s   CPU µs/req  × cluster-none  + µs/req over prefork  errors');
for (const name of names) {
  const mine = runs.filter((r) => r.name === name);
  const rps = median(mine.map((r) => r.rps));
  const errors = mine.reduce((a, r) => a + r.errors, 0);
  const added = name.startsWith('prefork ') ? (cpu(name) - plain).toFixed(2) : '';
  console.log(`${name.padEnd(24)} ${String(Math.round(rps)).padStart(7)}  ${cpu(name).toFixed(2).padStart(9)}  ${(cpu(name) / base).toFixed(3).padStart(12)}  ${added.padStart(20)}  ${String(errors).padStart(6)}`);
}
