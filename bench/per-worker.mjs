#!/usr/bin/env node
// npm run bench:per-worker: nginx (least_conn, examples/nginx-per-worker.conf) in front of prefork
// -w 2, (a) over ONE shared unix socket, (b) over one socket per worker slot. A slow client sends
// SLOW_COUNT requests that block a worker's CPU for SLOW_MS each, one after another, so one worker
// at a time is busy; meanwhile fast requests arrive at FAST_RATE per second (keep-alive) and we
// record each one's latency. The question: do fast requests wait behind a busy worker?
// Rounds alternate (a) and (b); medians are printed. Loopback only; every load is bounded.
// Env: SLOW_COUNT (10), SLOW_MS (300), FAST_RATE (200), BENCH_ROUNDS (5), BENCH_LAYOUTS (shared,per-worker).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveConfig } from '../dist/test/helpers/nginx.js';
import { freePort, need, sleep, stopChild } from './lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SLOW_COUNT = Number(process.env.SLOW_COUNT ?? 10);
const SLOW_MS = Number(process.env.SLOW_MS ?? 300);
const FAST_RATE = Number(process.env.FAST_RATE ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LAYOUTS = (process.env.BENCH_LAYOUTS ?? 'shared,per-worker').split(',');
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'serial,held').split(',');

need('/usr/sbin/nginx', 'nginx');
const DIR = mkdtempSync(join(tmpdir(), 'prefork-bench-pw-'));
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(DIR, { recursive: true, force: true });
});

function get(port, path, agent) {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c) => (body += c));
        res.on('end', () => resolve({ ok: res.statusCode === 200, ms: Number(process.hrtime.bigint() - start) / 1e6, body }));
      })
      .on('error', () => resolve({ ok: false, ms: Number(process.hrtime.bigint() - start) / 1e6, body: '' }));
  });
}

async function stop(child) {
  await stopChild(child);
  children.delete(child);
}

/** prefork and nginx for one layout; resolves once both workers answer through nginx. */
async function start(layout, round) {
  const dir = join(DIR, `${layout}-${round}`);
  const sockets = layout === 'shared' ? [`${dir}-app.sock`] : [0, 1].map((i) => `${dir}-web-${i}.sock`);
  const bind = layout === 'shared' ? sockets[0] : `${dir}-web-{worker}.sock`;
  const prefork = spawn(process.execPath, [join(ROOT, 'dist/bin/prefork.js'), '-w', '2', '-b', `unix:${bind}`, '--log-level', 'warn', '--timeout', '0', join(ROOT, 'bench/servers/slow-fast.cjs')], { stdio: 'ignore' });
  children.add(prefork);
  const port = await freePort();
  const ngxDir = mkdtempSync(join(DIR, 'nginx-'));
  const conf = join(ngxDir, 'nginx.conf');
  const example = readFileSync(join(ROOT, 'examples/nginx-per-worker.conf'), 'utf8');
  writeFileSync(conf, deriveConfig(example, { servers: sockets.map((s) => `unix:${s}`), port, dir: ngxDir }));
  const nginx = spawn('/usr/sbin/nginx', ['-p', `${ngxDir}/`, '-e', join(ngxDir, 'error.log'), '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  children.add(nginx);
  const workers = new Set();
  const deadline = Date.now() + 20_000;
  while (workers.size < 2) {
    if (Date.now() > deadline) throw new Error(`${layout}: both workers did not answer through nginx`);
    const r = await get(port, '/', false);
    if (r.ok) workers.add(JSON.parse(r.body).worker ?? JSON.parse(r.body).pid);
    else await sleep(50);
  }
  return { port, direct: sockets[0], close: async () => Promise.all([stop(nginx), stop(prefork)]) };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

/**
 * Fast requests at FAST_RATE per second (open loop: one is sent on schedule whether or not the
 * earlier ones were answered, as independent users would) until `until` resolves.
 */
async function fastLoad(port, until) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let stop = false;
  void until.then(() => (stop = true));
  const pending = [];
  const started = Date.now();
  for (let i = 0; !stop; i += 1) {
    pending.push(get(port, '/', agent));
    const next = started + ((i + 1) * 1000) / FAST_RATE;
    await sleep(Math.max(0, next - Date.now()));
  }
  const replies = await Promise.all(pending);
  agent.destroy();
  return { latencies: replies.filter((r) => r.ok).map((r) => r.ms).sort((a, b) => a - b), failed: replies.filter((r) => !r.ok).length };
}

/**
 * SLOW_COUNT slow requests pipelined on one connection straight to a socket (the first slot's, or
 * the shared one): the worker that accepts it holds all of them, one after another, and nginx
 * does not know. Resolves when the last answer arrived.
 */
function held(path) {
  return new Promise((resolve, reject) => {
    const c = net.connect(path, () =>
      c.write(`GET /slow?ms=${SLOW_MS} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(SLOW_COUNT)),
    );
    let seen = '';
    c.setEncoding('utf8').on('data', (d) => {
      seen += d;
      if ((seen.match(/HTTP\/1\.1 200/g) ?? []).length >= SLOW_COUNT) {
        c.destroy();
        resolve();
      }
    });
    c.on('error', reject);
  });
}

/** The slow requests through nginx, one after another: one worker at a time is busy. */
async function serial(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < SLOW_COUNT; i += 1) await get(port, `/slow?ms=${SLOW_MS}`, agent);
  agent.destroy();
}

async function measure(layout, scenario, round) {
  const { port, direct, close } = await start(layout, round);
  try {
    await fastLoad(port, sleep(500)); // warm up: nginx's keep-alive pool, the JIT
    const quiet = await fastLoad(port, sleep(1000));
    const busy = await fastLoad(port, scenario === 'held' ? held(direct) : serial(port));
    const stuck = busy.latencies.filter((ms) => ms > SLOW_MS / 3).length;
    return {
      layout,
      scenario,
      quiet: { n: quiet.latencies.length, p50: pct(quiet.latencies, 50), p99: pct(quiet.latencies, 99) },
      busy: { n: busy.latencies.length, failed: busy.failed, p50: pct(busy.latencies, 50), p99: pct(busy.latencies, 99), max: busy.latencies.at(-1), stuck },
    };
  } finally {
    await close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = [];
for (let round = 0; round < ROUNDS; round += 1)
  for (const scenario of SCENARIOS)
    for (const layout of LAYOUTS) {
      const r = await measure(layout, scenario, round);
      runs.push(r);
      console.error(`round ${round + 1} ${scenario} ${layout}: ${JSON.stringify(r)}`);
    }
console.log(`\nfast requests (${FAST_RATE}/s) through nginx least_conn to prefork -w 2; busy = while ${SLOW_COUNT} requests of ${SLOW_MS} ms CPU run (medians of ${ROUNDS} rounds, ms)`);
console.log('serial: the slow requests come through nginx one after another; held: one worker holds all of them (pipelined on one connection straight to its socket)\n');
console.log(`| slow requests | layout | quiet p99 | busy p50 | busy p99 | busy max | fast requests over ${SLOW_MS / 3} ms (of ~${FAST_RATE * (SLOW_COUNT * SLOW_MS) / 1000}), median | same, worst round | failed |`);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const scenario of SCENARIOS)
  for (const layout of LAYOUTS) {
    const rs = runs.filter((r) => r.layout === layout && r.scenario === scenario);
    const m = (f) => median(rs.map(f)).toFixed(1);
    const stuck = rs.map((r) => r.busy.stuck);
    console.log(`| ${scenario} | ${layout} | ${m((r) => r.quiet.p99)} | ${m((r) => r.busy.p50)} | ${m((r) => r.busy.p99)} | ${m((r) => r.busy.max)} | ${median(stuck)} | ${Math.max(...stuck)} | ${rs.reduce((s, r) => s + r.busy.failed, 0)} |`);
  }
