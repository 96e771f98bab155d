import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The bad-input table: every row is something an operator can get wrong. Each must end with its
 * documented exit code, one stderr line naming the bad value, and the directory exactly as it was.
 * In args, DIR stands for the row's own temp directory; setup may put files there first.
 */
export interface Row {
  what: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  setup?: (dir: string) => void;
  code: 2 | 3 | 4;
  message: RegExp;
}

export const SOCK = 'unix:DIR/app.sock';

/** Rows for bind strings, numbers, durations and sizes, and env values. */
export const ARG_ROWS: Row[] = [
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
  // per-worker binds ({worker})
  {
    what: '{worker} in the host',
    args: ['-b', '{worker}.example:80'],
    code: 2,
    message: /invalid --bind "\{worker\}.example:80": \{worker\} goes in the port, not the host/,
  },
  {
    what: '{worker} on fd://',
    args: ['-b', 'fd://{worker}'],
    code: 2,
    message: /invalid --bind "fd:\/\/\{worker\}": fd:\/\/N is one inherited descriptor, shared by every worker/,
  },
  {
    what: 'a port {worker} without a base',
    args: ['-b', '127.0.0.1:{worker}'],
    code: 2,
    message: /invalid --bind "127.0.0.1:\{worker\}": a TCP port needs a base: HOST:\{BASE\+worker\}/,
  },
  {
    what: 'a per-worker port past 65535 for a starting worker',
    args: ['-w', '2', '-b', '127.0.0.1:{65535+worker}'],
    code: 2,
    message: /invalid --bind "127.0.0.1:\{65535\+worker\}": worker 1: its port would be 65536/,
  },
  {
    what: 'two per-worker binds giving one port',
    args: ['-w', '2', '-b', '127.0.0.1:{19000+worker}', '-b', '127.0.0.1:{19001+worker}'],
    code: 2,
    message: /\(worker 0: 127.0.0.1:19001\) is the same address as --bind 127.0.0.1:\{19000\+worker\} \(worker 1/,
  },
  {
    what: 'a per-worker path equal to a shared bind',
    args: ['-w', '2', '-b', 'unix:DIR/web-{worker}.sock', '-b', 'unix:DIR/web-1.sock'],
    code: 2,
    message: /--bind unix:.*\/web-1.sock is the same address as --bind unix:.*\/web-\{worker\}.sock \(worker 1: /,
  },
  {
    what: '{worker} in --metrics-bind',
    args: ['--metrics-bind', '127.0.0.1:{9000+worker}'],
    code: 2,
    message:
      /invalid --metrics-bind "127.0.0.1:\{9000\+worker\}": \{worker\} \(one socket per worker\) is only for --bind/,
  },
  {
    what: 'a per-worker path with a port template',
    args: ['-b', 'unix:DIR/web-{9000+worker}.sock'],
    code: 2,
    message: /the worker id is written \{worker\}, not \{9000\+worker\}/,
  },
  {
    what: 'a bad per-worker bind in env',
    args: [],
    env: { PREFORK_BIND: 'fd://{worker}' },
    code: 2,
    message: /invalid env PREFORK_BIND "fd:\/\/\{worker\}"/,
  },
  {
    what: 'a per-worker path in a missing directory',
    args: ['-b', 'unix:DIR/none/web-{worker}.sock'],
    code: 3,
    message: /cannot bind unix:.*\/none\/web-0.sock: directory .*\/none does not exist/,
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
];
