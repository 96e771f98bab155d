// Baseline 1: one plain Node process.
const http = require('node:http');
http.createServer(require('../hello.cjs')).listen(Number(process.env.PORT), '127.0.0.1');
