import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, ROOT, app, runPrefork, tempDir, track } from '../helpers/prefork.js';

/**
 * The bad-input table: every row is something an operator can get wrong. Each must end with its
 * documented exit code, one stderr line naming the bad value, and the directory exactly as it was.
 * In args, DIR stands for the row's own temp directory; setup may put files there first.
 */
interface Row {
  what: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  setup?: (dir: string) => void;
  code: 2 | 3 | 4;
  message: RegExp;
}

const SOCK = 'unix:DIR/app.sock';

const ROWS: Row[] = [
  // bind strings
  { what: 'bare port', args: ['-b', '8000'], code: 2, message: /invalid --bind "8000".*did you mean ":8000"/ },
  {
    what: 'port out of range',
    args: ['-b', '127.0.0.1:99999'],
    code: 2,
    message: /invalid --bind "127.0.0.1:99999": port 99999 is out of range/,
  },
  { what: 'negative port', args: ['-b', ':-1'], code: 2, message: /invalid --bind ":-1"/ },
  { what: 'IPv6 without ]', args: ['-b', '[::1:80'], code: 2, message: /invalid --bind "\[::1:80": missing "\]"/ },
  { what: 'IPv6 without brackets', args: ['-b', '::1:80'], code: 2, message: /an IPv6 address needs brackets/ },
  { what: 'bad IPv6 literal', args: ['-b', '[::g]:80'], code: 2, message: /"::g" is not an IPv6 address/ },
  { what: 'bad host name', args: ['-b', 'bad_host!:80'], code: 2, message: /"bad_host!" is not a host name/ },
  {
    what: 'empty unix path',
    args: ['-b', 'unix:'],
    code: 2,
    message: /invalid --bind "unix:": the socket path is empty/,
  },
  { what: 'empty abstract name', args: ['-b', 'unix:@'], code: 2, message: /the abstract socket name is empty/ },
  { what: 'fd not a number', args: ['-b', 'fd://three'], code: 2, message: /invalid --bind "fd:\/\/three"/ },
  { what: 'unknown scheme', args: ['-b', 'tcp://1.2.3.4:5'], code: 2, message: /invalid --bind "tcp:\/\/1.2.3.4:5"/ },
  {
    what: 'bad bind in env',
    args: [],
    env: { PREFORK_BIND: 'nowhere' },
    code: 2,
    message: /invalid env PREFORK_BIND "nowhere"/,
  },
  {
    what: 'bad bind in config',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{"bind": ["unix:x.sock", "8080"]}'),
    code: 2,
    message: /invalid "bind" in .*c.json: "8080"/,
  },
  // numbers and enums
  {
    what: 'zero workers',
    args: ['-w', '0'],
    code: 2,
    message: /invalid --workers "0": expected a whole number from 1 to 1024/,
  },
  { what: 'negative workers', args: ['-w', '-1'], code: 2, message: /--workers/ },
  { what: 'non-numeric workers', args: ['-w', 'abc'], code: 2, message: /invalid --workers "abc"/ },
  { what: 'fractional workers', args: ['-w', '2.5'], code: 2, message: /invalid --workers "2.5"/ },
  {
    what: 'bad octal mode',
    args: ['--socket-mode', '0999'],
    code: 2,
    message: /invalid --socket-mode "0999": expected an octal file mode/,
  },
  { what: 'symbolic mode', args: ['--socket-mode', 'rw'], code: 2, message: /invalid --socket-mode "rw"/ },
  {
    what: 'bad seconds',
    args: ['--graceful-timeout', 'soon'],
    code: 2,
    message: /invalid --graceful-timeout "soon": expected a number of seconds/,
  },
  { what: 'negative seconds', args: ['--keep-alive-timeout', '-5'], code: 2, message: /--keep-alive-timeout/ },
  { what: 'zero backlog', args: ['--backlog', '0'], code: 2, message: /invalid --backlog "0"/ },
  { what: 'bad max-requests', args: ['--max-requests', 'lots'], code: 2, message: /invalid --max-requests "lots"/ },
  { what: 'bad timeout', args: ['--timeout', '1m'], code: 2, message: /invalid --timeout "1m"/ },
  { what: 'zero reload batch', args: ['--reload-batch', '0'], code: 2, message: /invalid --reload-batch "0"/ },
  {
    what: 'bad log level',
    args: ['--log-level', 'loud'],
    code: 2,
    message: /invalid --log-level "loud": expected one of fatal, error, warn, info, debug, trace, silent/,
  },
  { what: 'bad log format', args: ['--log-format', 'xml'], code: 2, message: /invalid --log-format "xml"/ },
  {
    what: 'bad threads',
    args: ['--threads', 'many'],
    code: 2,
    message: /invalid --threads "many": expected a whole number from 0 to 256/,
  },
  {
    what: 'bad task timeout',
    args: ['--task-timeout', '5s'],
    code: 2,
    message: /invalid --task-timeout "5s": expected a number of seconds/,
  },
  {
    what: 'bad env reload',
    args: [],
    env: { PREFORK_RELOAD: 'sometimes' },
    code: 2,
    message: /invalid env PREFORK_RELOAD "sometimes": expected true or false/,
  },
  {
    what: 'unknown option',
    args: ['--frobnicate'],
    code: 2,
    message: /unknown option --frobnicate: see prefork --help/,
  },
  {
    what: 'unknown --no- option, named as typed',
    args: ['--no-such-flag'],
    code: 2,
    message: /unknown option --no-such-flag: see prefork --help/,
  },
  {
    what: 'misspelt option',
    args: ['--wokers', '2'],
    code: 2,
    message: /unknown option --wokers: did you mean --workers\?/,
  },
  { what: 'negation of a non-boolean', args: ['--no-workers'], code: 2, message: /unknown option --no-workers/ },
  {
    what: 'misspelt command',
    args: ['statu', '--control', 'DIR/ctl.sock', 'NO_APP'],
    code: 2,
    message: /unknown command "statu" \(and no app file statu\): did you mean prefork status --control PATH\?/,
  },
  {
    what: 'command after options',
    args: ['-w', '1', 'status', 'NO_APP'],
    code: 2,
    message: /"status" is a command, not an app file: it goes first/,
  },
  // durations and sizes: at most what a Node timer (or an exact byte count) holds
  {
    what: 'graceful timeout beyond a timer',
    args: ['--graceful-timeout', '3000000'],
    code: 2,
    message: /invalid --graceful-timeout "3000000": expected a number of seconds from 0 to 2147483 \(about 24.8 days\)/,
  },
  {
    what: 'shutdown delay beyond a timer',
    args: ['--shutdown-delay', '3000000'],
    code: 2,
    message: /invalid --shutdown-delay "3000000": expected a number of seconds from 0 to 2147483/,
  },
  {
    what: 'boot timeout as an exponent',
    args: ['--boot-timeout', '1e400'],
    code: 2,
    message: /invalid --boot-timeout "1e400"/,
  },
  {
    what: 'keep-alive beyond a timer in env',
    args: [],
    env: { PREFORK_KEEP_ALIVE_TIMEOUT: '2147484' },
    code: 2,
    message: /invalid env PREFORK_KEEP_ALIVE_TIMEOUT "2147484": expected a number of seconds from 0 to 2147483/,
  },
  {
    what: 'max-memory beyond an exact byte count',
    args: ['--max-memory', '99999999999'],
    code: 2,
    message: /invalid --max-memory "99999999999": expected a whole number from 0 to 8589934591/,
  },
  {
    what: 'request timeout beyond a timer in config',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{"requestTimeout": 3000000}'),
    code: 2,
    message: /invalid "requestTimeout" in .*c.json: 3000000: expected a number of seconds from 0 to 2147483/,
  },
  {
    what: 'option without its value',
    args: ['-w'],
    code: 2,
    message: /^prefork: -w needs a value: number of worker processes$/,
  },
  { what: 'option followed by another', args: ['--name', '--workers', '2'], code: 2, message: /--name needs a value/ },
  // env
  {
    what: 'bad env workers',
    args: [],
    env: { PREFORK_WORKERS: 'zero' },
    code: 2,
    message: /invalid env PREFORK_WORKERS "zero"/,
  },
  { what: 'bad PORT', args: [], env: { PORT: 'http' }, code: 2, message: /invalid env PORT "http"/ },
  {
    what: 'bad WEB_CONCURRENCY',
    args: [],
    env: { WEB_CONCURRENCY: '0' },
    code: 2,
    message: /invalid env WEB_CONCURRENCY "0"/,
  },
  {
    what: 'bad env boolean',
    args: [],
    env: { PREFORK_ACCESS_LOG: 'maybe' },
    code: 2,
    message: /invalid env PREFORK_ACCESS_LOG "maybe": expected true or false/,
  },
  {
    what: 'misspelt env name',
    args: [],
    env: { PREFORK_WOKERS: '2' },
    code: 2,
    message: /unknown env PREFORK_WOKERS: did you mean PREFORK_WORKERS\?/,
  },
  {
    what: 'bad env balance',
    args: [],
    env: { PREFORK_BALANCE: 'evenly' },
    code: 2,
    message: /invalid env PREFORK_BALANCE "evenly": expected true or false/,
  },
  // config files
  {
    what: 'missing config file',
    args: ['--config', 'DIR/none.json'],
    code: 2,
    message: /cannot read config file .*none.json: file not found/,
  },
  {
    what: 'config of unknown type',
    args: ['--config', 'prefork.yaml'],
    code: 2,
    message: /invalid config file "prefork.yaml": expected a .json, .js, .mjs or .cjs file/,
  },
  {
    what: 'unknown config key',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{"threadz": 4}'),
    code: 2,
    message: /unknown option "threadz" in config file .*c.json: did you mean "threads"\?/,
  },
  {
    what: 'config socketMode as a number',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{"socketMode": 440}'),
    code: 2,
    message: /invalid "socketMode" in .*c.json: 440: expected an octal file mode as a string, e.g. "0660"/,
  },
  {
    what: 'config null',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{"workers": null}'),
    code: 2,
    message: /invalid "workers" in .*c.json: null: expected a whole number/,
  },
  {
    what: 'config 1e400',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{"gracefulTimeout": 1e400}'),
    code: 2,
    message: /invalid "gracefulTimeout" in .*c.json: Infinity: expected a number of seconds/,
  },
  {
    what: 'config value of the wrong type',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{"bind": 8000}'),
    code: 2,
    message: /invalid "bind" in .*c.json: 8000: expected a bind address or a list of them/,
  },
  {
    what: 'config key given twice',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{"logLevel": "warn", "log-level": "info"}'),
    code: 2,
    message: /option "log-level" in config file .*c.json is also given as "logLevel"/,
  },
  {
    what: 'JS config export that rejects',
    args: ['--config', 'DIR/c.mjs'],
    setup: (d) => writeFileSync(join(d, 'c.mjs'), "export default Promise.reject(new Error('vault down'));\n"),
    code: 2,
    message: /cannot load config file .*c.mjs: vault down/,
  },
  {
    what: 'JS config export that never settles',
    args: ['--config', 'DIR/c.mjs'],
    setup: (d) => writeFileSync(join(d, 'c.mjs'), 'export default new Promise(() => {});\n'),
    code: 2,
    message: /cannot load config file .*c.mjs: its default export never settles/,
  },
  {
    what: 'bad config value',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{"workers": "many"}'),
    code: 2,
    message: /invalid "workers" in .*c.json: "many"/,
  },
  {
    what: 'invalid JSON',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '{workers: 2'),
    code: 2,
    message: /config file .*c.json is not valid JSON/,
  },
  {
    what: 'config holding an array',
    args: ['--config', 'DIR/c.json'],
    setup: (d) => writeFileSync(join(d, 'c.json'), '[1, 2]'),
    code: 2,
    message: /must hold an object of options, got an array/,
  },
  {
    what: 'JS config that throws',
    args: ['--config', 'DIR/c.mjs'],
    setup: (d) => writeFileSync(join(d, 'c.mjs'), "throw new Error('config boom');\n"),
    code: 2,
    message: /cannot load config file .*c.mjs: config boom/,
  },
  // socket paths
  {
    what: 'socket path too long',
    args: ['-b', `unix:/tmp/${'x'.repeat(110)}.sock`],
    code: 2,
    message: /bytes; unix socket paths may have at most 107/,
  },
  {
    what: 'regular file at the socket path',
    args: ['-b', SOCK],
    setup: (d) => writeFileSync(join(d, 'app.sock'), 'data'),
    code: 3,
    message: /the path exists and is a regular file; refusing to replace it/,
  },
  {
    what: 'directory at the socket path',
    args: ['-b', SOCK],
    setup: (d) => mkdirSync(join(d, 'app.sock')),
    code: 3,
    message: /is a directory; refusing/,
  },
  {
    what: 'symlink at the socket path',
    args: ['-b', SOCK],
    setup: (d) => symlinkSync('/etc/hostname', join(d, 'app.sock')),
    code: 3,
    message: /is a symlink; refusing/,
  },
  {
    what: 'missing socket directory',
    args: ['-b', 'unix:DIR/missing/app.sock'],
    code: 3,
    message: /directory .*missing does not exist/,
  },
  {
    what: 'fd that is not a socket',
    args: ['-b', 'fd://0'],
    code: 3,
    message: /cannot use fd:\/\/0: it is not a listening socket \(a terminal or device\)/,
  },
  {
    what: 'fd that is not open',
    args: ['-b', 'fd://99'],
    code: 3,
    message: /cannot use fd:\/\/99: it is not a listening socket \(not an open descriptor\)/,
  },
  {
    what: 'one unix path twice',
    args: ['-b', SOCK, '-b', 'unix:./app.sock'],
    code: 2,
    message: /--bind unix:.\/app.sock is the same address as --bind unix:.*app.sock: each address can be bound once/,
  },
  {
    what: 'control socket on a bind path',
    args: ['-b', SOCK, '--control', 'DIR/app.sock'],
    code: 2,
    message: /--control unix:.*app.sock is the same address as --bind/,
  },
  // app modules
  {
    what: 'missing app file',
    args: ['-b', SOCK, 'DIR/nope.js'],
    code: 4,
    message: /cannot load app .*nope\.js: .* not found/,
  },
  {
    what: 'app throws at import',
    args: ['-b', SOCK, app('throws.cjs')],
    code: 4,
    message: /threw while loading: boom at import/,
  },
  {
    what: 'app of the wrong shape that calls no listen()',
    args: ['-b', SOCK, '--boot-timeout', '1', app('wrong-shape.cjs')],
    code: 4,
    message: /exports a number and called no listen\(\) within --boot-timeout 1 s/,
  },
  {
    what: 'named export of the wrong shape',
    args: ['-b', SOCK, app('named.mjs:notAnApp')],
    code: 4,
    message: /the export is a number; expected a request listener/,
  },
  { what: 'missing named export', args: ['-b', SOCK, app('named.mjs:nope')], code: 4, message: /has no export "nope"/ },
  {
    what: 'no default export and no listen()',
    args: ['-b', SOCK, '--boot-timeout', '1', app('no-default.mjs')],
    code: 4,
    message: /has no default export .* and called no listen\(\)/,
  },
  {
    what: '--factory on a non-function',
    args: ['-b', SOCK, '--factory', app('wrong-shape.cjs')],
    code: 4,
    message: /--factory needs a function export, got a number/,
  },
  {
    what: 'missing APP',
    args: ['-b', SOCK, 'NO_APP'],
    code: 2,
    message: /missing APP: expected path\/to\/module\[:export\]/,
  },
  // --check-config refuses what a start refuses, with the same exit code and line
  {
    what: 'check-config: missing app file',
    args: ['--check-config', '-b', SOCK, 'DIR/nope.js'],
    code: 4,
    message: /cannot load app .*nope\.js: .* not found/,
  },
  {
    what: 'check-config: pidfile in a missing directory',
    args: ['--check-config', '--pidfile', 'DIR/missing/p.pid'],
    code: 2,
    message: /invalid --pidfile ".*missing\/p.pid": directory .*missing does not exist/,
  },
  {
    what: 'check-config: unknown user',
    args: ['--check-config', '--user', 'nosuchuser'],
    code: 2,
    message: /unknown user "nosuchuser" for --user|--user nosuchuser needs prefork to start as root/,
  },
  {
    what: 'check-config: group without user',
    args: ['--check-config', '--group', 'adm'],
    code: 2,
    message: /--group adm needs --user/,
  },
  {
    what: 'check-config: missing socket directory',
    args: ['--check-config', '-b', 'unix:DIR/missing/app.sock'],
    code: 3,
    message: /directory .*missing does not exist/,
  },
  {
    what: 'check-config: a file at the socket path',
    args: ['--check-config', '-b', SOCK],
    setup: (d) => writeFileSync(join(d, 'app.sock'), 'data'),
    code: 3,
    message: /the path exists and is a regular file/,
  },
];

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
