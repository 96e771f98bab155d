import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import cluster, { type Worker } from 'node:cluster';
import { closeSync, existsSync, lstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import net from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type RawHandle,
  type RefusedBind,
  bindPipe,
  bindTcp,
  handOverConnection,
  handleKind,
  openConnections,
  openFd,
  refuseBindsFor,
  tcpAddress,
} from '../../src/shared/internals.js';

/**
 * The Node internals prefork relies on (src/shared/internals.ts), each exercised directly, so that a Node
 * upgrade that changes one fails here, naming the internal, rather than somewhere in an e2e test.
 * Real sockets: loopback TCP and unix sockets in a temp directory; the worker-side internals run
 * in a real cluster worker (test/helpers/internals-worker.ts).
 */

const NODE = `Node ${process.version}`;
const INTERNALS = new URL('../../src/shared/internals.js', import.meta.url).href;
const WORKER = fileURLToPath(new URL('../helpers/internals-worker.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'prefork-internals-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function handleOf(result: RawHandle | number, what: string): RawHandle {
  assert.equal(
    typeof result,
    'object',
    `${what} returned errno ${String(result)} on ${NODE}: has net._createServerHandle changed?`,
  );
  return result as RawHandle;
}

/** Connects, reads to the end: what the server said, or the connection error's code. */
function talk(to: number | string): Promise<string> {
  return new Promise((resolve) => {
    const socket = typeof to === 'number' ? net.connect(to, '127.0.0.1') : net.connect(to);
    let said = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (said += d));
    socket.on('end', () => resolve(said));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
  });
}

test('bindTcp: binds 127.0.0.1 without listening (connections refused); a port someone listens on is EADDRINUSE at once', async () => {
  const handle = handleOf(bindTcp('127.0.0.1', 0, 4), 'bindTcp(127.0.0.1, 0)');
  try {
    assert.equal(handleKind(handle), 'tcp', `a TCP handle's constructor is no longer named TCP on ${NODE}`);
    const address = tcpAddress(handle);
    assert.ok(address !== null && address.port > 0, `tcpAddress (getsockname) gave ${JSON.stringify(address)}`);
    assert.equal(address.address, '127.0.0.1');
    assert.equal(address.family, 'IPv4');
    assert.equal(await talk(address.port), 'ECONNREFUSED', 'a bound socket must not accept: nobody listens on it yet');
  } finally {
    handle.close();
  }
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const taken = bindTcp('127.0.0.1', (server.address() as net.AddressInfo).port, 4);
    // libuv defers this error from bind() to listen(); bindTcp's getsockname check must report it now.
    assert.equal(
      taken,
      -constants.errno.EADDRINUSE,
      `a port in use must fail at bind time, not at listen(), on ${NODE}`,
    );
  } finally {
    server.close();
  }
});

test('bindTcp: binds ::1 (IPv6) when the host has it', async (t) => {
  const result = bindTcp('::1', 0, 6);
  if (result === -constants.errno.EADDRNOTAVAIL || result === -constants.errno.EAFNOSUPPORT) {
    t.skip('no IPv6 loopback here');
    return;
  }
  const handle = handleOf(result, 'bindTcp(::1, 0)');
  try {
    assert.deepEqual({ ...tcpAddress(handle), port: 0 }, { address: '::1', family: 'IPv6', port: 0 });
  } finally {
    handle.close();
  }
});

test('bindPipe: binds a unix path (a socket file nobody accepts on) and an abstract name; EADDRINUSE when taken', async () => {
  const path = join(dir, 'bound.sock');
  const handle = handleOf(bindPipe(path), `bindPipe(${path})`);
  assert.equal(handleKind(handle), 'pipe');
  assert.ok(lstatSync(path).isSocket(), 'the bind creates the socket file');
  assert.equal(await talk(path), 'ECONNREFUSED', 'a bound unix socket must not accept: nobody listens on it yet');
  assert.equal(bindPipe(path), -constants.errno.EADDRINUSE, 'a second bind of the path fails');
  // The reason listeners.ts never close()s a path-bound handle to release it: libuv unlinks the path.
  handle.close();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(existsSync(path), false, `close() of a bound pipe no longer unlinks its path on ${NODE}`);
  const abstract = handleOf(bindPipe(`\0prefork-internals-${process.pid}`), 'bindPipe(abstract name)');
  assert.equal(handleKind(abstract), 'pipe');
  abstract.close();
});

test('openFd: refuses a descriptor that is not a socket; wraps an inherited socket (fd 3) in a child', async () => {
  const file = join(dir, 'plain-file');
  const fd = openSync(file, 'w');
  try {
    const result = openFd(fd);
    assert.equal(typeof result, 'number', 'a regular file is not a socket');
    assert.ok((result as number) < 0);
  } finally {
    closeSync(fd);
  }
  const handle = handleOf(bindTcp('127.0.0.1', 0, 4), 'bindTcp');
  const port = tcpAddress(handle)?.port;
  const script = `import { openFd, handleKind, tcpAddress } from ${JSON.stringify(INTERNALS)};
    const h = openFd(3);
    console.log(JSON.stringify(typeof h === 'number' ? { errno: h } : { kind: handleKind(h), port: tcpAddress(h)?.port }));`;
  try {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit', handle.fd],
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out), { kind: 'tcp', port }, 'the child wraps the very socket it inherited');
  } finally {
    handle.close();
  }
});

// ── in a real cluster worker ─────────────────────────────────────────────────────────────────

type Reply = Record<string, unknown> & { cmd: string };

function fork(t: TestContext, refused: RefusedBind[]): Worker {
  cluster.setupPrimary({ exec: WORKER, execArgv: [], silent: false });
  const worker = cluster.fork();
  // At once, as the master does: before the worker can ask for anything.
  refuseBindsFor(worker, (req) => refused.push(req));
  t.after(() => {
    if (worker.process.exitCode === null && worker.process.signalCode === null) worker.process.kill('SIGKILL');
  });
  return worker;
}

function next(worker: Worker, cmd: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${cmd}" from the worker within 5 s`)), 5000);
    const on = (m: Reply): void => {
      if (m.cmd !== cmd && !m.cmd.endsWith('error')) return;
      clearTimeout(timer);
      worker.off('message', on);
      resolve(m);
    };
    worker.on('message', on);
  });
}

test('listenOnHandle, refuseBindsFor, surviveMasterLoss: in a cluster worker', async (t) => {
  const refused: RefusedBind[] = [];
  const worker = fork(t, refused);
  await next(worker, 'up');
  const pid = worker.process.pid;

  await t.test('a TCP handle sent by the master: the worker accepts on it', async () => {
    const handle = handleOf(bindTcp('127.0.0.1', 0, 4), 'bindTcp');
    const port = tcpAddress(handle)!.port;
    worker.send({ cmd: 'listen', name: null }, handle as unknown as net.Server);
    assert.equal((await next(worker, 'listening')).cmd, 'listening');
    assert.equal(await talk(port), `served by ${pid}\n`);
    handle.close();
  });

  await t.test('a unix handle sent by the master: the worker accepts on it without asking the primary', async () => {
    const path = join(dir, 'worker.sock');
    const handle = handleOf(bindPipe(path), 'bindPipe');
    worker.send({ cmd: 'listen', name: path }, handle as unknown as net.Server);
    const reply = await next(worker, 'listening');
    assert.equal(
      reply.cmd,
      'listening',
      `listenOnHandle(pipe) failed in a worker (${String(reply.code)}): sent to the primary? ${NODE}`,
    );
    assert.equal(reply.address, path, `server.address() of a pipe listened on by handle, on ${NODE}`);
    assert.equal(await talk(path), `served by ${pid}\n`);
    assert.deepEqual(refused, [], 'listening on a received handle must not go through queryServer');
  });

  await t.test('a worker that binds for itself is refused (EACCES) and the master hears of it', async () => {
    worker.send({ cmd: 'bind' });
    const reply = await next(worker, 'bind-error');
    assert.deepEqual(reply, { cmd: 'bind-error', code: 'EACCES' }, `queryServer was not refused on ${NODE}`);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.address, '127.0.0.1');
    assert.equal(refused[0]!.port, 0);
  });

  await t.test('the master gone (IPC closed): a surviving worker serves on; a plain one exits', async () => {
    const plain = fork(t, []);
    await next(plain, 'up');
    const plainExit = new Promise((resolve) => plain.process.once('exit', resolve));
    worker.send({ cmd: 'survive' });
    await next(worker, 'surviving');
    worker.process.disconnect();
    plain.process.disconnect();
    await plainExit;
    // Still there and still serving after its channel closed.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(
      worker.process.exitCode,
      null,
      `surviveMasterLoss: the worker exited when its IPC channel closed, on ${NODE}`,
    );
    assert.equal(await talk(join(dir, 'worker.sock')), `served by ${pid}\n`);
  });
});

test("handOverConnection: a connection accepted by one server and handed to another is the other's: its close() waits for it, getConnections() counts it", async (t) => {
  const listen = (s: net.Server): Promise<number> =>
    new Promise((done) => s.listen(0, '127.0.0.1', () => done((s.address() as net.AddressInfo).port)));
  const count = (s: net.Server): Promise<number> =>
    new Promise((done, fail) => s.getConnections((err, n) => (err ? fail(err) : done(n))));
  const app = net.createServer();
  const handed = new Promise<net.Socket>((resolve) => app.on('connection', resolve));
  const forward = net.createServer((socket) => {
    handOverConnection(socket, forward, app);
    app.emit('connection', socket);
  });
  await listen(app);
  const client = net.connect(await listen(forward), '127.0.0.1');
  const socket = await handed;
  t.after(() => {
    client.destroy();
    socket.destroy();
    app.close();
    forward.close();
  });
  assert.equal(await count(app), 1, `the app's server counts it (${NODE}: has net.Server#_connections changed?)`);
  assert.equal(await count(forward), 0);
  // What a drain reads (openConnections): the same counts, synchronously.
  assert.equal(openConnections(app), 1);
  assert.equal(openConnections(forward), 0);
  let closed = false;
  const closing = new Promise<void>((done) => app.close(() => ((closed = true), done())));
  forward.close();
  await new Promise((done) => setTimeout(done, 50));
  assert.equal(closed, false, "the app's close() waits for the connection");
  socket.destroy();
  await closing;
  assert.equal(openConnections(app), 0);
});
