// The smallest app prefork serves: a plain node:http request listener as the default export.
// Run it with `npm start`, or `node dist/bin/prefork.js -w 4 -b :8080 examples/hello.js`.
export default function hello(req, res) {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ hello: 'world', pid: process.pid, worker: process.env.PREFORK_WORKER_ID }) + '\n');
}
