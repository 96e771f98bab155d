#!/usr/bin/env node
// npm run bench:fetch: a Hono hello world served by prefork in Hono's documented shape
// (`export default app`, an object with fetch: prefork's own adapter) against the same app given
// to prefork through @hono/node-server's getRequestListener (the adapter Hono's Node server uses),
// and a framework-free fetch app. wrk keep-alive on loopback TCP, interleaved rounds, medians.
// Knobs (env): BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_WORKERS (2).
import { join } from 'node:path';
import { need } from './lib.mjs';
import { ROOT, interleaved, median, roundRatios, startPrefork } from './measure.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);

const CONFIGS = {
  'hono { fetch }': 'bench/servers/hono-fetch.mjs',
  'hono getRequestListener': 'bench/servers/hono-listener.mjs',
  'plain { fetch }': 'bench/servers/plain-fetch.mjs',
};

need('wrk', 'wrk');
const servers = Object.fromEntries(Object.entries(CONFIGS).map(([name, app]) => [name, () => startPrefork(join(ROOT, app), WORKERS)]));
const runs = await interleaved(servers, ROUNDS, SECONDS, (r) =>
  console.error(`round ${r.round} ${r.name.padEnd(24)} ${r.rps.toFixed(0).padStart(7)} req/s  ${r.cpuUsPerRequest.toFixed(1)} µs/req  errors ${r.errors}`),
);
const BASE = 'hono getRequestListener';
console.log(`\nprefork -w ${WORKERS}, wrk -t1 -c64 -d${SECONDS}s keep-alive, ${ROUNDS} interleaved rounds (medians), Node ${process.version}\n`);
console.log('app                       req/s   × getRequestListener (median of rounds)  CPU µs/req  errors');
for (const name of Object.keys(CONFIGS)) {
  const mine = runs.filter((r) => r.name === name);
  const rps = median(mine.map((r) => r.rps));
  const ratio = median(roundRatios(runs, name, BASE, (r) => r.rps));
  const cpu = median(mine.map((r) => r.cpuUsPerRequest));
  const errors = mine.reduce((a, r) => a + r.errors, 0);
  console.log(`${name.padEnd(24)} ${String(Math.round(rps)).padStart(7)}  ${ratio.toFixed(2).padStart(10)}                              ${cpu.toFixed(1).padStart(6)}  ${String(errors).padStart(6)}`);
}
