import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, runPrefork, tempDir } from '../helpers/prefork.js';

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
  { what: 'port out of range', args: ['-b', '127.0.0.1:99999'], code: 2, message: /invalid --bind "127.0.0.1:99999": port 99999 is out of range/ },
  { what: 'negative port', args: ['-b', ':-1'], code: 2, message: /invalid --bind ":-1"/ },
  { what: 'IPv6 without ]', args: ['-b', '[::1:80'], code: 2, message: /invalid --bind "\[::1:80": missing "\]"/ },
  { what: 'IPv6 without brackets', args: ['-b', '::1:80'], code: 2, message: /an IPv6 address needs brackets/ },
  { what: 'bad IPv6 literal', args: ['-b', '[::g]:80'], code: 2, message: /"::g" is not an IPv6 address/ },
  { what: 'bad host name', args: ['-b', 'bad_host!:80'], code: 2, message: /"bad_host!" is not a host name/ },
  { what: 'empty unix path', args: ['-b', 'unix:'], code: 2, message: /invalid --bind "unix:": the socket path is empty/ },
  { what: 'empty abstract name', args: ['-b', 'unix:@'], code: 2, message: /the abstract socket name is empty/ },
  { what: 'fd not a number', args: ['-b', 'fd://three'], code: 2, message: /invalid --bind "fd:\/\/three"/ },
  { what: 'unknown scheme', args: ['-b', 'tcp://1.2.3.4:5'], code: 2, message: /invalid --bind "tcp:\/\/1.2.3.4:5"/ },
  { what: 'bad bind in env', args: [], env: { PREFORK_BIND: 'nowhere' }, code: 2, message: /invalid env PREFORK_BIND "nowhere"/ },
  { what: 'bad bind in config', args: ['--config', 'DIR/c.json'], setup: (d) => writeFileSync(join(d, 'c.json'), '{"bind": ["unix:x.sock", "8080"]}'), code: 2, message: /invalid "bind" in .*c.json "8080"/ },
  // numbers and enums
  { what: 'zero workers', args: ['-w', '0'], code: 2, message: /invalid --workers "0": expected a whole number from 1 to 1024/ },
  { what: 'negative workers', args: ['-w', '-1'], code: 2, message: /--workers/ },
  { what: 'non-numeric workers', args: ['-w', 'abc'], code: 2, message: /invalid --workers "abc"/ },
  { what: 'fractional workers', args: ['-w', '2.5'], code: 2, message: /invalid --workers "2.5"/ },
  { what: 'bad octal mode', args: ['--socket-mode', '0999'], code: 2, message: /invalid --socket-mode "0999": expected an octal file mode/ },
  { what: 'symbolic mode', args: ['--socket-mode', 'rw'], code: 2, message: /invalid --socket-mode "rw"/ },
  { what: 'bad seconds', args: ['--graceful-timeout', 'soon'], code: 2, message: /invalid --graceful-timeout "soon": expected a number of seconds/ },
  { what: 'negative seconds', args: ['--keep-alive-timeout', '-5'], code: 2, message: /--keep-alive-timeout/ },
  { what: 'zero backlog', args: ['--backlog', '0'], code: 2, message: /invalid --backlog "0"/ },
  { what: 'bad max-requests', args: ['--max-requests', 'lots'], code: 2, message: /invalid --max-requests "lots"/ },
  { what: 'bad timeout', args: ['--timeout', '1m'], code: 2, message: /invalid --timeout "1m"/ },
  { what: 'zero reload batch', args: ['--reload-batch', '0'], code: 2, message: /invalid --reload-batch "0"/ },
  { what: 'bad log level', args: ['--log-level', 'loud'], code: 2, message: /invalid --log-level "loud": expected one of fatal, error, warn, info, debug, trace, silent/ },
  { what: 'bad log format', args: ['--log-format', 'xml'], code: 2, message: /invalid --log-format "xml"/ },
  { what: 'bad threads', args: ['--threads', 'many'], code: 2, message: /invalid --threads "many": expected a whole number from 0 to 256/ },
  { what: 'bad task timeout', args: ['--task-timeout', '5s'], code: 2, message: /invalid --task-timeout "5s": expected a number of seconds/ },
  { what: 'bad env reload', args: [], env: { PREFORK_RELOAD: 'sometimes' }, code: 2, message: /invalid env PREFORK_RELOAD "sometimes": expected true or false/ },
  { what: 'unknown option', args: ['--frobnicate'], code: 2, message: /Unknown argument: frobnicate/ },
  { what: 'option without its value', args: ['-w'], code: 2, message: /Not enough arguments following: w/ },
  // env
  { what: 'bad env workers', args: [], env: { PREFORK_WORKERS: 'zero' }, code: 2, message: /invalid env PREFORK_WORKERS "zero"/ },
  { what: 'bad PORT', args: [], env: { PORT: 'http' }, code: 2, message: /invalid env PORT "http"/ },
  { what: 'bad WEB_CONCURRENCY', args: [], env: { WEB_CONCURRENCY: '0' }, code: 2, message: /invalid env WEB_CONCURRENCY "0"/ },
  { what: 'bad env boolean', args: [], env: { PREFORK_ACCESS_LOG: 'maybe' }, code: 2, message: /invalid env PREFORK_ACCESS_LOG "maybe": expected true or false/ },
  { what: 'bad env balance', args: [], env: { PREFORK_BALANCE: 'evenly' }, code: 2, message: /invalid env PREFORK_BALANCE "evenly": expected true or false/ },
  // config files
  { what: 'missing config file', args: ['--config', 'DIR/none.json'], code: 2, message: /cannot read config file .*none.json: file not found/ },
  { what: 'config of unknown type', args: ['--config', 'prefork.yaml'], code: 2, message: /invalid config file "prefork.yaml": expected a .json, .js, .mjs or .cjs file/ },
  { what: 'unknown config key', args: ['--config', 'DIR/c.json'], setup: (d) => writeFileSync(join(d, 'c.json'), '{"threadz": 4}'), code: 2, message: /unknown option "threadz" in config file/ },
  { what: 'bad config value', args: ['--config', 'DIR/c.json'], setup: (d) => writeFileSync(join(d, 'c.json'), '{"workers": "many"}'), code: 2, message: /invalid "workers" in .*c.json "many"/ },
  { what: 'invalid JSON', args: ['--config', 'DIR/c.json'], setup: (d) => writeFileSync(join(d, 'c.json'), '{workers: 2'), code: 2, message: /config file .*c.json is not valid JSON/ },
  { what: 'config holding an array', args: ['--config', 'DIR/c.json'], setup: (d) => writeFileSync(join(d, 'c.json'), '[1, 2]'), code: 2, message: /must hold an object of options, got an array/ },
  { what: 'JS config that throws', args: ['--config', 'DIR/c.mjs'], setup: (d) => writeFileSync(join(d, 'c.mjs'), "throw new Error('config boom');\n"), code: 2, message: /cannot load config file .*c.mjs: config boom/ },
  // socket paths
  { what: 'socket path too long', args: ['-b', `unix:/tmp/${'x'.repeat(110)}.sock`], code: 2, message: /bytes; unix socket paths may have at most 107/ },
  { what: 'regular file at the socket path', args: ['-b', SOCK], setup: (d) => writeFileSync(join(d, 'app.sock'), 'data'), code: 3, message: /the path exists and is a regular file; refusing to replace it/ },
  { what: 'directory at the socket path', args: ['-b', SOCK], setup: (d) => mkdirSync(join(d, 'app.sock')), code: 3, message: /is a directory; refusing/ },
  { what: 'symlink at the socket path', args: ['-b', SOCK], setup: (d) => symlinkSync('/etc/hostname', join(d, 'app.sock')), code: 3, message: /is a symlink; refusing/ },
  { what: 'missing socket directory', args: ['-b', 'unix:DIR/missing/app.sock'], code: 3, message: /directory .*missing does not exist/ },
  { what: 'fd that is not a socket', args: ['-b', 'fd://0'], code: 3, message: /cannot use fd:\/\/0: it is not an open socket/ },
  // app modules
  { what: 'missing app file', args: ['-b', SOCK, 'DIR/nope.js'], code: 4, message: /cannot load app .*nope\.js: .* not found/ },
  { what: 'app throws at import', args: ['-b', SOCK, app('throws.cjs')], code: 4, message: /threw while loading: boom at import/ },
  { what: 'app of the wrong shape that calls no listen()', args: ['-b', SOCK, '--boot-timeout', '1', app('wrong-shape.cjs')], code: 4, message: /exports a number and called no listen\(\) within --boot-timeout 1 s/ },
  { what: 'named export of the wrong shape', args: ['-b', SOCK, app('named.mjs:notAnApp')], code: 4, message: /the export is a number; expected a request listener/ },
  { what: 'missing named export', args: ['-b', SOCK, app('named.mjs:nope')], code: 4, message: /has no export "nope"/ },
  { what: 'no default export and no listen()', args: ['-b', SOCK, '--boot-timeout', '1', app('no-default.mjs')], code: 4, message: /has no default export .* and called no listen\(\)/ },
  { what: '--factory on a non-function', args: ['-b', SOCK, '--factory', app('wrong-shape.cjs')], code: 4, message: /--factory needs a function export, got a number/ },
  { what: 'missing APP', args: ['-b', SOCK, 'NO_APP'], code: 2, message: /missing APP: expected path\/to\/module\[:export\]/ },
];

/** Every entry below dir with its inode and mtime: "nothing created or removed" made checkable. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map((name) => {
    const s = lstatSync(join(dir, String(name)));
    return `${String(name)} ${s.ino} ${s.mtimeMs}`;
  }).sort();
}

test(`bad input table (${ROWS.length} rows): documented exit code, one line naming the value, nothing created or removed`, async (t) => {
  assert.ok(ROWS.length >= 40);
  const busy = net.createServer();
  await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done));
  t.after(() => busy.close());
  const rows: Row[] = [
    ...ROWS,
    { what: 'port in use', args: ['-b', `127.0.0.1:${(busy.address() as net.AddressInfo).port}`], code: 3, message: /address already in use/ },
  ];
  for (const row of rows) {
    const dir = tempDir(t);
    row.setup?.(dir);
    const before = snapshot(dir);
    const args = row.args.map((a) => a.replace('DIR', dir));
    const hasApp = args.some((a) => a.endsWith('.js') || a.endsWith('.cjs') || a.includes('.mjs')) || args.includes('NO_APP');
    const hasBind = args.includes('-b') || row.env?.PREFORK_BIND !== undefined || row.env?.PORT !== undefined || row.what.includes('config');
    const full = [...args.filter((a) => a !== 'NO_APP'), ...(hasBind ? [] : ['-b', `unix:${join(dir, 'app.sock')}`]), ...(hasApp ? [] : [app('pid.cjs')])];
    const r = await runPrefork(t, full, { env: { PORT: undefined, WEB_CONCURRENCY: undefined, ...row.env }, cwd: dir });
    assert.equal(r.code, row.code, `${row.what}: exit ${r.code}, stderr ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${row.what}: ${r.stderr}`);
    assert.match(lines[0]!, /^prefork: /, row.what);
    assert.match(lines[0]!, row.message, row.what);
    assert.deepEqual(snapshot(dir), before, `${row.what}: files were created or removed`);
  }
});
