import assert from 'node:assert/strict';
import { test } from 'node:test';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import type { Target } from '../helpers/prefork.js';
import { type Served, checkApp, getRoute, prepareApp, serveApp } from './helpers.js';

interface Ack {
  echo: string;
  pid: number;
}

/** socket.io-client over TCP, websocket transport only (no sticky sessions needed). */
async function viaClient(target: Target): Promise<Ack> {
  const socket = io(`http://127.0.0.1:${target.port}`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
    return (await socket.timeout(5000).emitWithAck('chat message', 'hi')) as Ack;
  } finally {
    socket.disconnect();
  }
}

/**
 * The same exchange over the unix socket, spoken by hand on a `ws+unix:` WebSocket (the client
 * library has no unix sockets): engine.io open, namespace connect, an event with an ack.
 */
async function viaUnix(target: Target): Promise<Ack> {
  const ws = new WebSocket(`ws+unix://${target.socketPath}:/socket.io/?EIO=4&transport=websocket`);
  const messages: string[] = [];
  const waiters: Array<(m: string) => void> = [];
  ws.on('message', (data: Buffer) => {
    const waiter = waiters.shift();
    if (waiter) waiter(data.toString());
    else messages.push(data.toString());
  });
  const next = (): Promise<string> =>
    new Promise((resolve) => {
      const queued = messages.shift();
      if (queued !== undefined) resolve(queued);
      else waiters.push(resolve);
    });
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    assert.match(await next(), /^0\{"sid"/);
    ws.send('40');
    assert.match(await next(), /^40\{"sid"/);
    ws.send('421["chat message","hi"]');
    const ack = await next();
    assert.match(ack, /^431\[/);
    return (JSON.parse(ack.slice(3)) as Ack[])[0] as Ack;
  } finally {
    ws.close();
  }
}

async function bothWorkersAnswerSockets(s: Served): Promise<void> {
  const pids = new Set<number>();
  for (let i = 0; i < 100 && pids.size < 2; i += 1) {
    const ack = await (i % 2 === 0 ? viaClient(s.tcp) : viaUnix(s.unix));
    assert.equal(ack.echo, 'hi');
    pids.add(ack.pid);
  }
  assert.deepEqual([...pids].sort(), s.p.readyWorkers().sort(), 'both workers answer Socket.IO');
}

test('Socket.IO (Express + socket.io, drop-in), websocket transport over TCP and unix', async (t) => {
  const dir = prepareApp('socket.io');
  const served = await serveApp(t, dir, 'index.mjs');
  const routes = [getRoute('/health', '"status":"ok"'), getRoute('/', 'Hello world')];
  await checkApp(t, served, routes, bothWorkersAnswerSockets);
});
