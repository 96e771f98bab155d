#!/usr/bin/env node
// npm run bench:per-worker: nginx (least_conn, examples/nginx-per-worker.conf) in front of prefork
// -w 2, (a) over ONE shared unix socket, (b) over one socket per worker slot. A slow client sends
// SLOW_COUNT requests that block a worker's CPU for SLOW_MS each, one after another, so one worker
// at a time is busy; meanwhile fast requests arrive at FAST_RATE per second (keep-alive) and we
// record each one's latency. The question: do fast requests wait behind a busy worker?
// Rounds alternate (a) and (b); medians are printed. Loopback only; every load is bounded.
// Env: SLOW_COUNT (10), SLOW_MS (300), FAST_RATE (200), BENCH_ROUNDS (3), BENCH_LAYOUTS (shared,per-worker).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveConfig } from '../dist/test/helpers/nginx.js';
import { freePort, need, sleep } from './lib.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SLOW_COUNT = Number(process.env.SLOW_COUNT ?? 10);
const SLOW_MS = Number(process.env.SLOW_MS ?? 300);
const FAST_RATE = Number(process.env.FAST_RATE ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LAYOUTS = (process.env.BENCH_LAYOUTS ?? 'shared,per-worker').split(',');

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
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

/** prefork and nginx for one layout; resolves once both workers answer through nginx. */
async function start(layout, round) {
  const dir = join(DIR, `${layout}-${round}`);
  const sockets = layout === 'shared' ? [`${dir}-app.sock`] : [0, 1].map((i) => `${dir}-web-${i}.sock`);
  const bind = layout === 'shared' ? sockets[0] : `${dir}-web-{worker}.sock`;
  const prefork = spawn(process.execPath, [join(ROOT, 'dist/src/cli.js'), '-w', '2', '-b', `unix:${bind}`, '--log-level', 'warn', '--timeout', '0', join(ROOT, 'bench/servers/slow-fast.cjs')], { stdio: 'ignore' });
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
  return { port, close: async () => Promise.all([stop(nginx), stop(prefork)]) };
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

async function measure(layout, round) {
  const { port, close } = await start(layout, round);
  try {
    await fastLoad(port, sleep(500)); // warm up: nginx's keep-alive pool, the JIT
    const quiet = await fastLoad(port, sleep(1000));
    const slowAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const slowDone = (async () => {
      for (let i = 0; i < SLOW_COUNT; i += 1) await get(port, `/slow?ms=${SLOW_MS}`, slowAgent);
    })();
    const busy = await fastLoad(port, slowDone);
    slowAgent.destroy();
    return {
      layout,
      quiet: { n: quiet.latencies.length, p50: pct(quiet.latencies, 50), p99: pct(quiet.latencies, 99) },
      busy: { n: busy.latencies.length, failed: busy.failed, p50: pct(busy.latencies, 50), p99: pct(busy.latencies, 99), max: busy.latencies.at(-1), stuck: busy.latencies.filter((ms) => ms > SLOW_MS / 3).length },
    };
  } finally {
    await close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = [];
for (let round = 0; round < ROUNDS; round += 1)
  for (const layout of LAYOUTS) {
    const r = await measure(layout, round);
    runs.push(r);
    console.error(`round ${round + 1} ${layout}: ${JSON.stringify(r)}`);
  }
console.log(`\nfast requests through nginx least_conn, prefork -w 2, ${FAST_RATE} fast requests/s; busy = while ${SLOW_COUNT} requests of ${SLOW_MS} ms CPU run one after another (medians of ${ROUNDS} rounds, ms)\n`);
console.log(`| layout | quiet p50 | quiet p99 | busy p50 | busy p99 | busy max | fast requests while busy | of them over ${SLOW_MS / 3} ms | failed |`);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const layout of LAYOUTS) {
  const rs = runs.filter((r) => r.layout === layout);
  const m = (f) => median(rs.map(f)).toFixed(1);
  console.log(`| ${layout} | ${m((r) => r.quiet.p50)} | ${m((r) => r.quiet.p99)} | ${m((r) => r.busy.p50)} | ${m((r) => r.busy.p99)} | ${m((r) => r.busy.max)} | ${median(rs.map((r) => r.busy.n))} | ${median(rs.map((r) => r.busy.stuck))} | ${rs.reduce((s, r) => s + r.busy.failed, 0)} |`);
}
