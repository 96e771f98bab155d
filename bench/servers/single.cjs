// Baseline 1: one plain Node process.
const http = require('node:http');
const server = http.createServer(require('../hello.cjs'));
if (process.env.SOCK) server.listen(process.env.SOCK);
else server.listen(Number(process.env.PORT), '127.0.0.1');
