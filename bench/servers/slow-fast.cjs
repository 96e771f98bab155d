// bench/per-worker.mjs's app: `/slow?ms=N` keeps the CPU busy for N ms (the event loop blocked, as
// a heavy template, a big JSON.stringify or a sync crypto call would); anything else answers at once.
const who = () => JSON.stringify({ pid: process.pid, worker: process.env.PREFORK_WORKER_ID });
module.exports = function slowFast(req, res) {
  if (req.url.startsWith('/slow')) {
    const until = Date.now() + Number(new URL(req.url, 'http://x').searchParams.get('ms') ?? 300);
    while (Date.now() < until);
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(who());
};
