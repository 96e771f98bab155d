#!/usr/bin/env node
// npm run bench:threads: the latency of a cheap route while a CPU-heavy route is loaded, with
// and without --threads. examples/cpu.js serves both: / answers at once, /heavy computes fib(n)
// through runTask(), on the worker's event loop (--threads 0) or on a worker thread.
// Two wrk runs at the same time, loopback only, bounded in time: 4 connections load /heavy back to
// back; 4 connections ask for / every 5 ms each (bench/paced.lua), a light load whose latency
// shows how long a request waits for the event loop. Knobs (env): BENCH_SECONDS (8),
// BENCH_WORKERS (1), BENCH_THREADS (1), BENCH_N (27: fib(27), about 5 ms of CPU per request).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, need, parseLatency, sleep } from './lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const N = Number(process.env.BENCH_N ?? 27);

need('wrk', 'wrk');

const answers = (port) =>
  new Promise((resolve) => http.get({ host: '127.0.0.1', port, agent: false }, (res) => (res.resume(), resolve(res.statusCode === 200))).on('error', () => resolve(false)));

function wrk(url, connections, script = []) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency', '--timeout', '10s', ...script, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => resolve({ rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), p50: parseLatency(out, '50%'), p99: parseLatency(out, '99%'), raw: out }));
  });
}

async function run(threads) {
  const port = await freePort();
  const args = [join(ROOT, 'dist/bin/prefork.js'), '-w', String(WORKERS), '--threads', String(threads), '-b', `127.0.0.1:${port}`, '--log-level', 'warn', join(ROOT, 'examples/cpu.js')];
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  try {
    const deadline = Date.now() + 20_000;
    while (!(await answers(port))) {
      if (Date.now() > deadline) throw new Error('prefork did not answer');
      await sleep(20);
    }
    const base = `http://127.0.0.1:${port}`;
    const [cheap, heavy] = await Promise.all([wrk(`${base}/`, 4, ['-s', join(ROOT, 'bench/paced.lua')]), wrk(`${base}/heavy?n=${N}`, 4)]);
    return { threads, cheap, heavy };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

const results = [];
for (const threads of [0, THREADS]) results.push(await run(threads));
console.log(`\nexamples/cpu.js, ${WORKERS} worker(s), ${SECONDS} s: / paced (4 connections, one request per 5 ms each) while wrk -c4 loads /heavy?n=${N}, Node ${process.version}\n`);
console.log('| --threads | cheap p50 | cheap p99 | cheap req/s | heavy req/s | heavy p99 |');
console.log('|---|---|---|---|---|---|');
for (const { threads, cheap, heavy } of results) {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : '?');
  console.log(`| ${threads} | ${f(cheap.p50)} ms | ${f(cheap.p99)} ms | ${f(cheap.rps)} | ${f(heavy.rps)} | ${f(heavy.p99)} ms |`);
}
