// A CPU-heavy route next to a cheap one. /heavy?n=30 computes fib(n) with runTask(): with
// --threads it runs on one of the worker's threads and / stays fast meanwhile; without, it runs
// on the worker's event loop (the same result, but every other request waits behind it).
//   node dist/bin/prefork.js -w 2 --threads 2 --task-timeout 10 examples/cpu.js
//   curl 'http://127.0.0.1:8000/heavy?n=32'
// bench/threads.mjs measures the cheap route's latency while /heavy is loaded, with and without.
import { runTask } from 'prefork/worker';

const fib = new URL('./cpu-task.js', import.meta.url);

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

export default async function app(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/heavy') {
    const n = Math.min(42, Math.max(1, Number(url.searchParams.get('n') ?? 30) || 30));
    try {
      json(res, 200, { n, fib: await runTask(fib, n), pid: process.pid });
    } catch (err) {
      // ERR_PREFORK_TASK_TIMEOUT: --task-timeout cancelled it.
      json(res, err.code === 'ERR_PREFORK_TASK_TIMEOUT' ? 503 : 500, { error: err.message });
    }
    return;
  }
  json(res, 200, { hello: 'world', pid: process.pid });
}
