import { spawn } from 'node:child_process';
import http from 'node:http';
const [node, kind, port] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const ROOT = '/work/wt/perf-scale';
const get = () => new Promise((r) => http.get({ host: '127.0.0.1', port, agent: false }, (res) => { res.resume(); r(res.statusCode === 200); }).on('error', () => r(false)));
const t0 = performance.now();
const child = kind === 'cluster'
  ? spawn(node, [`${ROOT}/bench/servers/cluster.cjs`], { env: { ...process.env, PORT: String(port), WORKERS: '2' }, stdio: 'inherit' })
  : spawn(node, [`${ROOT}/dist/src/cli.js`, '-w', '2', '-b', `127.0.0.1:${port}`, '--log-level', process.env.LL ?? 'warn', `${ROOT}/bench/hello.cjs`], { stdio: 'inherit' });
while (!(await get())) await new Promise((r) => setTimeout(r, 2));
const ms = performance.now() - t0;
child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r));
console.log(kind, ms.toFixed(0));
