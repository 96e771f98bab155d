import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { type Target, request, tempDir } from '../helpers/prefork.js';
import { type Served, checkApp, freeBase, getRoute, prepareApp, serveApp } from './helpers.js';

interface Ack {
  echo: string;
  pid: number;
}

/** socket.io-client over TCP: websocket transport only (no sticky sessions needed), or its default. */
async function viaClient(target: Target, transports = ['websocket']): Promise<Ack> {
  const socket = io(`http://127.0.0.1:${target.port}`, {
    transports,
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

/**
 * Long polling by hand over a unix socket, every request on a new connection: the handshake, the
 * namespace connect and an event each find the session only on the worker that made it.
 */
async function pollingOverUnix(target: Target): Promise<Ack> {
  const base = '/socket.io/?EIO=4&transport=polling';
  const poll = async (sid: string | null, body?: string): Promise<string> => {
    const reply = await request(target, {
      path: sid === null ? base : `${base}&sid=${sid}`,
      method: body === undefined ? 'GET' : 'POST',
      headers: { connection: 'close', 'content-type': 'text/plain;charset=UTF-8' },
      ...(body === undefined ? {} : { body }),
    });
    assert.equal(reply.status, 200, reply.body);
    return reply.body;
  };
  const open = /^0(\{.*\})$/.exec(await poll(null));
  assert.ok(open, 'engine.io handshake');
  const { sid } = JSON.parse(open[1] ?? '') as { sid: string };
  assert.equal(await poll(sid, '40'), 'ok');
  assert.match(await poll(sid), /^40\{"sid"/);
  assert.equal(await poll(sid, '421["chat message","hi"]'), 'ok');
  const ack = await poll(sid);
  assert.match(ack, /^431\[/);
  return (JSON.parse(ack.slice(3)) as Ack[])[0] as Ack;
}

test('Socket.IO sticky: one socket per worker (TCP {BASE+worker} and unix s-{worker}.sock), long polling then upgrade', async (t) => {
  const dir = prepareApp('socket.io');
  const sockets = tempDir(t, 'prefork-sio-');
  const base = await freeBase(2);
  const served = await serveApp(t, dir, 'index.mjs', {
    preforkArgs: ['-b', `127.0.0.1:{${base}+worker}`, '-b', `unix:${sockets}/s-{worker}.sock`],
  });
  const slotPid = async (slot: number): Promise<number> => {
    const viaTcp = await viaClient({ port: base + slot }, ['polling', 'websocket']);
    const viaUnix = await pollingOverUnix({ socketPath: join(sockets, `s-${slot}.sock`) });
    assert.equal(viaTcp.pid, viaUnix.pid, `slot ${slot}: one worker behind both of its sockets`);
    return viaTcp.pid;
  };
  const pids = [await slotPid(0), await slotPid(1)];
  for (let i = 0; i < 3; i += 1) assert.deepEqual([await slotPid(0), await slotPid(1)], pids, 'sessions stay put');
  assert.deepEqual([...pids].sort(), served.p.readyWorkers().sort());
  // The reason for all this: the same polling session on the shared socket, where either worker
  // may accept each request, meets the other worker's "Session ID unknown" (HTTP 400).
  let lost = 0;
  for (let i = 0; i < 20 && lost === 0; i += 1) await pollingOverUnix(served.unix).catch(() => (lost += 1));
  assert.ok(lost > 0, 'long polling over the shared socket never met the other worker');
  await checkApp(t, served, [getRoute('/health', '"status":"ok"'), getRoute('/', 'Hello world')], async () => {});
  assert.ok(!existsSync(join(sockets, 's-0.sock')) && !existsSync(join(sockets, 's-1.sock')), 'slot sockets removed');
});
