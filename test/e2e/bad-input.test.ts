import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, ROOT, app, runPrefork, tempDir, track } from '../helpers/prefork.js';
import { ARG_ROWS, type Row, SOCK } from './bad-input-rows.js';
import { FILE_ROWS } from './bad-input-rows-files.js';

/** The bad-input table (its rows are in bad-input-rows*.ts). */
const ROWS: Row[] = [...ARG_ROWS, ...FILE_ROWS];

/** A port nobody listens on right now (the kernel's pick, released again). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The same port twice: given equal, exit 2 before anything is bound; overlapping only once
 * resolved or through a wildcard, exit 3 when the master binds, naming both, and the unix
 * socket bound before is removed again.
 */
function overlapRows(p: number): Row[] {
  return [
    {
      what: 'the same address twice',
      args: ['-b', `127.0.0.1:${p}`, '-b', `127.0.0.1:${p}`],
      code: 2,
      message: new RegExp(`--bind 127.0.0.1:${p} is given twice`),
    },
    {
      what: 'an address inside a wildcard bind',
      args: ['-b', SOCK, '-b', `127.0.0.1:${p}`, '-b', `0.0.0.0:${p}`],
      code: 3,
      message: new RegExp(`cannot bind 0.0.0.0:${p}: it overlaps 127.0.0.1:${p}`),
    },
    {
      what: 'a host name resolving to a bound address',
      args: ['-b', `localhost:${p}`, '-b', SOCK, '-b', `127.0.0.1:${p}`],
      code: 3,
      message: new RegExp(`cannot bind 127.0.0.1:${p}: it overlaps localhost:${p} \\(127.0.0.1:${p}\\)`),
    },
    {
      what: 'metrics inside a bind',
      args: ['-b', `127.0.0.1:${p}`, '--metrics-bind', `0.0.0.0:${p}`],
      code: 3,
      message: new RegExp(`cannot bind 0.0.0.0:${p}: it overlaps 127.0.0.1:${p}`),
    },
  ];
}

/** Every entry below dir with its inode and mtime: "nothing created or removed" made checkable. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map((name) => {
      const s = lstatSync(join(dir, String(name)));
      return `${String(name)} ${s.ino} ${s.mtimeMs}`;
    })
    .sort();
}

test(`bad input table (${ROWS.length} rows): documented exit code, one line naming the value, nothing created or removed`, async (t) => {
  assert.ok(ROWS.length >= 40);
  const busy = net.createServer();
  await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done));
  t.after(() => busy.close());
  const rows: Row[] = [
    ...ROWS,
    {
      what: 'port in use',
      args: ['-b', `127.0.0.1:${(busy.address() as net.AddressInfo).port}`],
      code: 3,
      message: /address already in use/,
    },
    ...overlapRows(await freePort()),
  ];
  for (const row of rows) {
    const dir = tempDir(t);
    row.setup?.(dir);
    const before = snapshot(dir);
    const args = row.args.map((a) => a.replace('DIR', dir));
    const hasApp =
      args.some((a) => a.endsWith('.js') || a.endsWith('.cjs') || a.includes('.mjs')) || args.includes('NO_APP');
    const hasBind =
      args.includes('-b') ||
      row.env?.PREFORK_BIND !== undefined ||
      row.env?.PORT !== undefined ||
      row.what.includes('config');
    const full = [
      ...args.filter((a) => a !== 'NO_APP'),
      ...(hasBind ? [] : ['-b', `unix:${join(dir, 'app.sock')}`]),
      ...(hasApp ? [] : [app('pid.cjs')]),
    ];
    const r = await runPrefork(t, full, { env: { PORT: undefined, WEB_CONCURRENCY: undefined, ...row.env }, cwd: dir });
    assert.equal(r.code, row.code, `${row.what}: exit ${r.code}, stderr ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${row.what}: ${r.stderr}`);
    assert.match(lines[0]!, /^prefork: /, row.what);
    assert.match(lines[0]!, row.message, row.what);
    assert.deepEqual(snapshot(dir), before, `${row.what}: files were created or removed`);
  }
});

/**
 * python3 makes the descriptor (Node cannot make most of these), puts it at fd 3, inheritable,
 * and execs the CLI with -b fd://3: the master must refuse it before any worker.
 */
const FD_SCRIPT = `
import os, socket, sys
kind, argv = sys.argv[1], sys.argv[2:]
keep = []
if kind == 'pipe':
    fd = os.pipe()[0]
elif kind == 'socketpair':
    a, b = socket.socketpair(); keep.append(b); fd = a.fileno()
elif kind == 'connected tcp':
    server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen(1)
    c = socket.create_connection(server.getsockname()); keep += [server, c, server.accept()[0]]; fd = c.fileno()
elif kind == 'unbound tcp':
    s = socket.socket(); keep.append(s); fd = s.fileno()
elif kind == 'bound tcp':
    s = socket.socket(); s.bind(('127.0.0.1', 0)); keep.append(s); fd = s.fileno()
elif kind == 'udp':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0)); keep.append(s); fd = s.fileno()
elif kind == 'unbound unix':
    s = socket.socket(socket.AF_UNIX); keep.append(s); fd = s.fileno()
if fd != 3: os.dup2(fd, 3)
# dup2 onto itself keeps close-on-exec: clear it in every case.
os.set_inheritable(3, True)
os.execv(argv[0], argv)
`;

test('fd://N that is not a listening socket: exit 3 naming what it is, before any worker starts', async (t) => {
  const cases: [string, RegExp][] = [
    ['pipe', /\(a pipe\)/],
    ['socketpair', /\(a connected socket\)/],
    ['connected tcp', /\(a connected socket\)/],
    ['unbound tcp', /\(an unbound socket, or one bound without listen\(\)\)/],
    ['bound tcp', /\(an unbound socket, or one bound without listen\(\)\)/],
    ['udp', /\(a UDP socket\)/],
    ['unbound unix', /\(an unbound socket\)/],
  ];
  for (const [kind, what] of cases) {
    const child = spawn(
      'python3',
      ['-c', FD_SCRIPT, kind, process.execPath, CLI, '-w', '1', '-b', 'fd://3', app('pid.cjs')],
      {
        cwd: ROOT,
        env: { ...process.env, PREFORK_LOG_FORMAT: 'json' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const p = track(t, child);
    const exit = await p.exited;
    assert.equal(exit.code, 3, `${kind}: exit ${exit.code}, stderr ${p.stderr}`);
    assert.match(
      p.stderr,
      new RegExp(`^prefork: cannot use fd://3: it is not a listening socket ${what.source}\\n$`),
      kind,
    );
    assert.equal(p.workerEvents('ready').length, 0, `${kind}: a worker started`);
  }
});
