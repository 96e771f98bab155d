// Baseline 2: bare node:cluster with the same worker count; NODE_CLUSTER_SCHED_POLICY picks
// round robin (the default on Linux) or "none" (workers accept from a shared socket).
const cluster = require('node:cluster');
const http = require('node:http');
if (cluster.isPrimary) {
  const n = Number(process.env.WORKERS ?? 2);
  for (let i = 0; i < n; i += 1) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL');
    process.exit(0);
  });
} else {
  const server = http.createServer(require('../hello.cjs'));
  if (process.env.SOCK) server.listen(process.env.SOCK);
  else server.listen(Number(process.env.PORT), '127.0.0.1');
}
