import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  acceptWithStableShapes,
  bindTcp,
  listenOnHandle,
  openConnections,
  type RawHandle,
} from '../../src/shared/internals.js';

/**
 * acceptWithStableShapes() (src/shared/internals.ts): on Node 20 a server accepts through prefork's
 * copy of Node 20's onconnection, whose only difference is the options it gives net.Socket. Here,
 * on Node 20: the copy makes the socket Node's own makes, drops and fails as Node's does, and spares
 * V8's property caches (node --log-ic counts the misses); on every version: listenOnHandle(), how a
 * worker serves the master's sockets, installs it on Node 20 only.
 */

const NODE_20 = process.versions.node.split('.')[0] === '20';
const INTERNALS = new URL('../../src/shared/internals.js', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'prefork-accept-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Accept = 'node' | 'prefork';

interface Accepted {
  server: net.Server;
  socket: net.Socket;
  client: net.Socket;
  published: unknown[];
}

/** A loopback server accepting one connection, through Node's own onconnection or prefork's copy. */
async function acceptOne(how: Accept, options: net.ServerOpts): Promise<Accepted> {
  const server = net.createServer(options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  if (how === 'prefork') acceptWithStableShapes(server);
  const published: unknown[] = [];
  const onPublish = (message: unknown): void => void published.push(message);
  diagnosticsChannel.subscribe('net.server.socket', onPublish);
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const socket = await accepted;
  diagnosticsChannel.unsubscribe('net.server.socket', onPublish);
  return { server, socket, client, published };
}

const state = (s: unknown): Record<string, unknown> => s as Record<string, unknown>;

/** What a caller can tell of an accepted socket: its own properties (symbols by name) and flags. */
function portrait({ server, socket, published }: Accepted): Record<string, unknown> {
  const own = socket as unknown as Record<string | symbol, unknown>;
  const flag = (name: string): unknown => {
    const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === name);
    return key === undefined ? 'absent' : own[key];
  };
  return {
    keys: Reflect.ownKeys(socket).map((k) => (typeof k === 'symbol' ? `@${k.description}` : k)),
    server: own.server === server,
    _server: own._server === server,
    connections: openConnections(server),
    allowHalfOpen: socket.allowHalfOpen,
    readableHighWaterMark: socket.readableHighWaterMark,
    writableHighWaterMark: socket.writableHighWaterMark,
    reading: (own._handle as { reading?: boolean }).reading,
    noDelay: flag('kSetNoDelay'),
    keepAlive: flag('kSetKeepAlive'),
    keepAliveInitialDelay: flag('kSetKeepAliveInitialDelay'),
    emitClose: state(own._readableState).emitClose,
    autoDestroy: state(own._readableState).autoDestroy,
    decodeStrings: state(own._writableState).decodeStrings,
    published: published.map((m) => (m as { socket: unknown }).socket === socket),
  };
}

async function closeAll({ server, socket, client }: Accepted): Promise<number> {
  const closed = new Promise((resolve) => socket.once('close', resolve));
  client.destroy();
  // A half-open or paused socket would not close by itself: close it from this side too.
  socket.destroy();
  await closed;
  const left = openConnections(server);
  await new Promise((resolve) => server.close(resolve));
  return left;
}

const SERVER_OPTIONS: Array<[string, net.ServerOpts]> = [
  ['defaults', {}],
  ["http.Server's (noDelay)", { noDelay: true, allowHalfOpen: true }],
  [
    'every option net.Server reads on accept',
    { allowHalfOpen: true, pauseOnConnect: true, keepAlive: true, keepAliveInitialDelay: 3000, highWaterMark: 1024 },
  ],
];

// The copy follows Node 20's net.js, the only version it is installed on: newer Nodes set more on
// an accepted socket (Node 24: keep-alive interval and count), so the comparison runs on Node 20.
for (const [name, options] of SERVER_OPTIONS) {
  test(`prefork's accept makes the socket Node 20's own does (${name}), counts it, publishes it, and uncounts it on close`, async (t) => {
    if (!NODE_20) return t.skip(`the copy is Node 20's onconnection, and this is Node ${process.version}`);
    const node = await acceptOne('node', options);
    const ours = await acceptOne('prefork', options);
    try {
      assert.deepEqual(portrait(ours), portrait(node));
    } finally {
      assert.equal(await closeAll(ours), 0);
      assert.equal(await closeAll(node), 0);
    }
  });
}

test("over maxConnections, prefork's accept drops the connection with Node's 'drop' event and its addresses", async (t) => {
  if (!NODE_20) return t.skip(`the copy is Node 20's onconnection, and this is Node ${process.version}`);
  const dropped = async (how: Accept): Promise<string[]> => {
    const first = await acceptOne(how, {});
    first.server.maxConnections = 1;
    const drop = new Promise<Record<string, unknown>>((resolve) => first.server.once('drop', resolve));
    const second = net.connect((first.server.address() as net.AddressInfo).port, '127.0.0.1');
    second.on('error', () => {});
    let localPort: number | undefined;
    second.once('connect', () => (localPort = second.localPort));
    const data = await drop;
    await new Promise((resolve) => second.once('close', resolve));
    assert.equal(openConnections(first.server), 1, 'the dropped connection is not counted');
    assert.equal(data.remotePort, localPort, "the drop names the client's port");
    await closeAll(first);
    return Object.keys(data).sort();
  };
  assert.deepEqual(await dropped('prefork'), await dropped('node'));
});

test('an accept error reaches the server as Node words it (accept EMFILE, errno, syscall)', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  acceptWithStableShapes(server);
  const errored = new Promise<NodeJS.ErrnoException>((resolve) => server.once('error', resolve));
  const handle = (server as unknown as { _handle: { onconnection(err: number, h: unknown): void } })._handle;
  handle.onconnection(-24, null);
  const err = await errored;
  assert.deepEqual([err.message, err.code, err.errno, err.syscall], ['accept EMFILE', 'EMFILE', -24, 'accept']);
  await new Promise((resolve) => server.close(resolve));
});

test(`listenOnHandle() (how a worker serves the master's sockets) accepts through the copy on Node 20 only (${process.version}: ${NODE_20 ? 'the copy' : "Node's own"})`, async () => {
  const handle = bindTcp('127.0.0.1', 0, 4);
  assert.equal(typeof handle, 'object', `bindTcp: errno ${String(handle)}`);
  const server = net.createServer((socket) => socket.end('x'));
  const listening = new Promise((resolve) => server.once('listening', resolve));
  listenOnHandle(server, handle as RawHandle, 511);
  await listening;
  try {
    const accepting = (server as unknown as { _handle: { onconnection: { name: string } } })._handle;
    assert.equal(accepting.onconnection.name !== 'onconnection', NODE_20, "Node's own is lib/net.js onconnection");
    const said = await new Promise<string>((resolve) => {
      let text = '';
      net
        .connect((server.address() as net.AddressInfo).port, '127.0.0.1')
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .on('end', () => resolve(text));
    });
    assert.equal(said, 'x', 'and serves');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

/** V8's property-cache misses (node --log-ic) in a server process that accepts `count` connections. */
async function cacheMisses(how: Accept, count: number): Promise<number> {
  const log = join(dir, `${how}-${count}.log`);
  const script = `
    import net from 'node:net';
    const { acceptWithStableShapes } = await import(${JSON.stringify(INTERNALS)});
    const server = net.createServer({ noDelay: true }, (s) => s.end('x'));
    server.listen(0, '127.0.0.1', () => {
      if (${JSON.stringify(how)} === 'prefork') acceptWithStableShapes(server);
      console.log(server.address().port);
    });
    process.stdin.on('end', () => server.close()).resume();`;
  const child = spawn(
    process.execPath,
    ['--log-ic', `--logfile=${log}`, '--no-logfile-per-isolate', '--input-type=module', '-e', script],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d))));
  for (let i = 0; i < count; i += 1) {
    await new Promise((resolve) => net.connect(port, '127.0.0.1').on('close', resolve).resume());
  }
  child.stdin.end();
  await new Promise((resolve) => child.once('exit', resolve));
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => /^(Keyed)?(Load|Store)IC,/.test(line)).length;
}

test('on Node 20, an accepted connection no longer misses V8 property caches (node --log-ic)', async (t) => {
  if (!NODE_20) return t.skip(`Node ${process.version} accepts without the churn itself`);
  // Per connection: the misses of 300 accepts less those of 100, over 200.
  const perConnection = async (how: Accept): Promise<number> =>
    ((await cacheMisses(how, 300)) - (await cacheMisses(how, 100))) / 200;
  const node = await perConnection('node');
  const ours = await perConnection('prefork');
  assert.ok(node > 15, `Node 20's own accept misses ${node} times per connection (the defect this works around)`);
  assert.ok(ours < 3, `prefork's accept misses ${ours} times per connection`);
});
