// Baseline 2: bare node:cluster with the same worker count; NODE_CLUSTER_SCHED_POLICY picks
// round robin (the default on Linux) or "none" (workers accept from a shared socket).
// SIGHUP: the rolling restart a node:cluster user writes by hand: one worker at a time, fork a
// new one, and once it listens disconnect the old one (which stops accepting and lets its
// connections end).
const cluster = require('node:cluster');
const http = require('node:http');
if (cluster.isPrimary) {
  const n = Number(process.env.WORKERS ?? 2);
  for (let i = 0; i < n; i += 1) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL');
    process.exit(0);
  });
  process.on('SIGHUP', async () => {
    for (const old of Object.values(cluster.workers)) {
      const fresh = cluster.fork();
      await new Promise((resolve) => fresh.once('listening', resolve));
      old.disconnect();
    }
  });
} else {
  const server = http.createServer(require('../hello.cjs'));
  if (process.env.SOCK) server.listen(process.env.SOCK);
  else server.listen(Number(process.env.PORT), '127.0.0.1');
}
