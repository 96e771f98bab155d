import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { total } from '../../src/shared/request-stats.js';
import type { Logger } from '../../src/shared/log.js';
import { Requests } from '../../src/worker/requests.js';

/** Serves `count` requests through Requests#track over real loopback HTTP; returns what it counted. */
async function serve(durations: boolean, count: number): Promise<{ requests: Requests; finished: number }> {
  let finished = 0;
  const requests = new Requests(null as unknown as Logger, false, durations, () => (finished += 1));
  const server = http.createServer((req, res) => {
    requests.track(res);
    assert.equal(requests.inflight, 1, 'in flight while served');
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end('ok');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true });
  for (let i = 0; i < count; i += 1) {
    await new Promise<void>((done, fail) => {
      http
        .get({ host: '127.0.0.1', port, agent, path: i === 0 ? '/missing' : '/' }, (res) =>
          res.resume().on('end', done),
        )
        .on('error', fail);
    });
  }
  agent.destroy();
  await new Promise((closed) => server.close(closed));
  // 'close' of the last response may come a tick after its client saw the end.
  await new Promise((tick) => setImmediate(tick));
  return { requests, finished };
}

test('Requests: counts and in-flight figures; the duration histogram only when something reads it', async () => {
  for (const durations of [false, true]) {
    const { requests, finished } = await serve(durations, 5);
    assert.equal(finished, 5);
    assert.equal(requests.inflight, 0);
    assert.equal(total(requests.stats), 5);
    assert.deepEqual([requests.stats.byClass['2xx'], requests.stats.byClass['4xx']], [4, 1]);
    const timed = requests.stats.buckets.reduce((a, b) => a + b, 0);
    assert.equal(timed, durations ? 5 : 0, `durations ${durations}: requests in the histogram`);
    assert.equal(requests.stats.durationSum > 0, durations);
  }
});
