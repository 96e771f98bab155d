import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import type { Target } from '../helpers/prefork.js';
import { checkApp, getRoute, prepareApp, serveApp } from './helpers.js';

/** One echo over a fresh WebSocket (TCP or `ws+unix:`): the worker's pid is in the answer. */
async function echo(target: Target): Promise<number> {
  const url =
    target.socketPath !== undefined ? `ws+unix://${target.socketPath}:/ws` : `ws://127.0.0.1:${target.port}/ws`;
  const ws = new WebSocket(url);
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const reply = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
    ws.send('hi');
    const text = await reply;
    const match = /^echo hi from (\d+)$/.exec(text);
    assert.ok(match, text);
    return Number(match[1]);
  } finally {
    ws.close();
  }
}

test('Fastify + @fastify/websocket (drop-in: await fastify.listen()), a WebSocket route on both sockets', async (t) => {
  const dir = prepareApp('fastify');
  const served = await serveApp(t, dir, 'server.mjs');
  await checkApp(t, served, [getRoute('/', '"hello":"world"'), getRoute('/health', '"status":"ok"')], async (s) => {
    const pids = new Set<number>();
    for (let i = 0; i < 100 && pids.size < 2; i += 1) pids.add(await echo(i % 2 === 0 ? s.tcp : s.unix));
    assert.deepEqual([...pids].sort(), s.p.readyWorkers().sort(), 'both workers answer WebSockets');
  });
});
