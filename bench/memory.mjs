#!/usr/bin/env node
// npm run bench:memory: the master's memory and the cold start, prefork against the bare
// node:cluster primary, on every Node version given, interleaved rounds. Per round and version:
// spawn the server (2 workers), time the first 200, put it under a short keep-alive load, then
// read the master's RSS and private memory from /proc. Loopback only; every load is bounded.
// Options (env): BENCH_NODES (comma-separated node binaries, or versions such as 22 that name a
// .ci/node-22*/ install; default: this node and every .ci/node-*/ one), BENCH_ROUNDS (3),
// BENCH_WORKERS (2).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, freePort, need, nodes, privateMb, rssMb, runWrk, sleep, stopChild, waitReady } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
/** The targets of the issue: master RSS at most the bare primary + 6 MB, cold start at most 1.3x. */
const RSS_BUDGET_MB = 6;
const COLD_BUDGET = 1.3;

const CONFIGS = {
  cluster: (node, port) =>
    spawn(node, [join(ROOT, 'bench/servers/cluster.cjs')], { env: { ...process.env, PORT: String(port), WORKERS: String(WORKERS) }, stdio: 'ignore' }),
  prefork: (node, port) =>
    spawn(node, [join(ROOT, 'dist/bin/prefork.js'), '-w', String(WORKERS), '-b', `127.0.0.1:${port}`, '--log-level', 'warn', join(ROOT, 'bench/hello.cjs')], { stdio: 'ignore' }),
};

async function measure(config, node) {
  const port = await freePort();
  const started = performance.now();
  const child = CONFIGS[config](node.path, port);
  try {
    await waitReady({ port });
    const coldMs = performance.now() - started;
    await runWrk({ port }, { seconds: 2 });
    await sleep(500);
    return { config, node: node.version, coldMs, rssMb: rssMb(child.pid), privateMb: privateMb(child.pid) };
  } finally {
    await stopChild(child);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  need('wrk', 'wrk');
  const list = nodes();
  const runs = [];
  // One unmeasured start per version: Node 22+ writes its compile cache on the first.
  for (const node of list) for (const config of Object.keys(CONFIGS)) await measure(config, node);
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const node of list) {
      for (const config of Object.keys(CONFIGS)) {
        const r = await measure(config, node);
        runs.push({ round, ...r });
        console.error(`round ${round} ${node.version.padEnd(9)} ${config.padEnd(8)} RSS ${r.rssMb.toFixed(1)} MB  cold start ${r.coldMs.toFixed(0)} ms`);
      }
    }
  }
  const table = list.map((node) => {
    const of = (config, key) => median(runs.filter((r) => r.node === node.version && r.config === config).map((r) => r[key]));
    const row = { node: node.version };
    for (const config of Object.keys(CONFIGS)) {
      row[config] = { rssMb: of(config, 'rssMb'), privateMb: of(config, 'privateMb'), coldMs: of(config, 'coldMs') };
    }
    row.rssAboveMb = row.prefork.rssMb - row.cluster.rssMb;
    row.coldRatio = row.prefork.coldMs / row.cluster.coldMs;
    return row;
  });
  console.log(`\nmaster memory and cold start: ${WORKERS} workers, median of ${ROUNDS} interleaved rounds (RSS after a 2 s keep-alive load)\n`);
  console.log('node       cluster RSS (private)   prefork RSS (private)   above   cold start cluster  prefork  ratio');
  for (const r of table) {
    const mem = (c) => `${r[c].rssMb.toFixed(1).padStart(6)} MB (${r[c].privateMb.toFixed(1).padStart(4)} MB)`;
    console.log(
      `${r.node.padEnd(10)} ${mem('cluster')}    ${mem('prefork')}  ${r.rssAboveMb.toFixed(1).padStart(5)} ${r.rssAboveMb <= RSS_BUDGET_MB ? 'ok' : '!!'}  ${r.cluster.coldMs.toFixed(0).padStart(13)} ms ${r.prefork.coldMs.toFixed(0).padStart(5)} ms  ${r.coldRatio.toFixed(2)} ${r.coldRatio <= COLD_BUDGET ? 'ok' : '!!'}`,
    );
  }
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `memory-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ workers: WORKERS, rounds: ROUNDS, budgets: { rssMb: RSS_BUDGET_MB, cold: COLD_BUDGET }, table, runs }, null, 2));
  console.log(`\nsaved ${file}`);
}

await main();
