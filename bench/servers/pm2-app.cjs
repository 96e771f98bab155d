// What PM2 cluster mode runs: the app listens itself; PM2's daemon (the cluster primary) shares
// the port with round robin.
const http = require('node:http');
const server = http.createServer(require('../hello.cjs'));
  if (process.env.SOCK) server.listen(process.env.SOCK);
  else server.listen(Number(process.env.PORT), '127.0.0.1');
