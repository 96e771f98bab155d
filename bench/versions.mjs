#!/usr/bin/env node
// npm run bench:versions: the Connection: close comparison on every Node version given. Per version,
// bench/run.mjs runs under that node (so prefork, node:cluster round robin and PM2 all run on it),
// close scenarios only, TCP and unix; this prints req/s against round robin and CPU per request
// against PM2 side by side. Options (env): BENCH_NODES (as bench/memory.mjs: default this node and
// every .ci/node-*/ one), BENCH_ROUNDS (3), and run.mjs's own (BENCH_SECONDS, BENCH_CLOSE_THREADS ...).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, need, nodes } from './lib.mjs';

const SCENARIOS = ['close', 'unix close'];
/** The targets of the issue: close-mode req/s at least 1.8x round robin, CPU per request at least 3x less than PM2. */
const TARGETS = { vsRoundRobin: 1.8, cpuVsPm2: 3 };

/** One bench/run.mjs under `node`: resolves with the table of the JSON it saved. */
function runOn(node) {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      BENCH_ROUNDS: process.env.BENCH_ROUNDS ?? '3',
      BENCH_SCENARIOS: SCENARIOS.join(','),
      BENCH_CONFIGS: 'cluster-rr,prefork,pm2',
      BENCH_CHANGES: '0',
    };
    const child = spawn(node.path, [join(ROOT, 'bench/run.mjs')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const saved = /^saved (.+)$/m.exec(out)?.[1];
      if (code !== 0 || !saved) return reject(new Error(`bench/run.mjs on ${node.version} exited ${code}`));
      resolve(JSON.parse(readFileSync(saved, 'utf8')));
    });
  });
}

async function main() {
  need('wrk', 'wrk');
  const rows = [];
  let closeThreads;
  for (const node of nodes()) {
    console.error(`Connection: close on ${node.version} ...`);
    const result = await runOn(node);
    closeThreads = result.closeThreads;
    for (const scenario of SCENARIOS) {
      const of = (config) => result.table.find((r) => r.scenario === scenario && r.config === config);
      const prefork = of('prefork');
      rows.push({
        node: node.version,
        scenario,
        rps: prefork.rps,
        roundRobinRps: of('cluster-rr').rps,
        pm2Rps: of('pm2').rps,
        vsRoundRobin: prefork.vsCluster,
        cpuUsPerRequest: prefork.cpuUsPerRequest,
        pm2CpuUsPerRequest: of('pm2').cpuUsPerRequest,
        cpuVsPm2: prefork.cpuVsPm2,
        hostIdle: prefork.hostIdle,
        errors: prefork.errors,
      });
    }
  }
  const ok = (value, target) => (value >= target ? 'ok' : '!!');
  console.log(`\nConnection: close on each Node version: wrk -t${closeThreads}, prefork against node:cluster round robin and PM2 (medians of ${process.env.BENCH_ROUNDS ?? 3} interleaved rounds)\n`);
  console.log('node       transport  prefork req/s  round robin  ×RR        PM2 req/s  CPU µs/req  PM2 µs/req  ÷PM2       host idle  errors');
  for (const r of rows) {
    console.log(
      `${r.node.padEnd(10)} ${(r.scenario === 'close' ? 'tcp' : 'unix').padEnd(9)} ${String(r.rps).padStart(14)} ${String(r.roundRobinRps).padStart(12)}  ${r.vsRoundRobin.toFixed(2)} ${ok(r.vsRoundRobin, TARGETS.vsRoundRobin)}  ${String(r.pm2Rps).padStart(10)}  ${r.cpuUsPerRequest.toFixed(1).padStart(10)}  ${r.pm2CpuUsPerRequest.toFixed(1).padStart(10)}  ${r.cpuVsPm2.toFixed(2)} ${ok(r.cpuVsPm2, TARGETS.cpuVsPm2)}  ${(r.hostIdle * 100).toFixed(1).padStart(7)} %  ${String(r.errors).padStart(6)}`,
    );
  }
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `versions-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ closeThreads, targets: TARGETS, rows }, null, 2));
  console.log(`\nsaved ${file}`);
}

await main();
