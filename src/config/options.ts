import { type Bind, type BindSpec, parseBind } from './bind.js';
import {
  type Parse,
  account,
  bindList,
  boolean,
  octalMode,
  oneOf,
  optionalBind,
  optionalString,
  stringList,
  ownerSpec,
  seconds,
  unixPath,
  wholeNumber,
} from './option-parsers.js';
import { availableCpus } from './cpus.js';
import { socketActivated } from './socket-activation.js';
import { CONTROL_SOCKET_MODE, MAX_WORKERS } from './limits.js';

/**
 * THE option table. Each entry is the single definition of one option: its flag, alias, env
 * name, type, default, help text and validator. yargs, PREFORK_* env vars, config files,
 * --help, --check-config and the Config type are all derived from it.
 */

/** What a default may depend on: the foreign conventions PORT and WEB_CONCURRENCY, and the TTY. */
export interface DefaultContext {
  env: NodeJS.ProcessEnv;
  stdoutIsTTY: boolean;
}

export interface OptionDef<T> {
  /** kebab-case: the flag is --NAME, the env var PREFORK_NAME, the config key camelCase or NAME. */
  readonly name: string;
  readonly alias?: string;
  /**
   * A second long name for another option (its key): flag, env and config key of their own, one
   * value. config.ts merges them (the higher source wins) and the resolved config holds it under both.
   */
  readonly aliasOf?: string;
  /** How yargs reads the flag; every value still goes through parse(). */
  readonly cli: 'string' | 'boolean' | 'array' | 'positional' | 'rest';
  /** One line for --help. */
  readonly describe: string;
  /** The reference's text (docs/options.md, markdown; links are relative to docs/); describe when absent. */
  readonly doc?: string;
  /** The value's placeholder in the reference: `--workers N`. */
  readonly value?: string;
  readonly defaultDoc: string;
  readonly default: (ctx: DefaultContext) => T;
  readonly parse: Parse<T>;
  /**
   * 'restart': a reload (HUP) cannot apply it (new sockets, privileges, the one log file every
   * process shares): the change is logged as ignored until a restart or hot upgrade.
   */
  readonly onReload?: 'restart';
  /** Only on the command line (not env, not config file). */
  readonly cliOnly?: boolean;
  readonly group: 'Server' | 'Workers' | 'Logging' | 'Config';
}

const def = <T>(d: OptionDef<T>): OptionDef<T> => d;

/** --max-memory is compared in bytes: beyond this, MB * 1048576 is no longer an exact number. */
const MAX_MEMORY_MB = Math.floor(Number.MAX_SAFE_INTEGER / 1048576);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;

// Laid out as a table on purpose (flag facts, texts, then default and parser): prettier would give
// every property a line of its own and double the file.
// prettier-ignore
export const OPTIONS = {
  app: def<string | null>({
    name: 'app', cli: 'positional', group: 'Server',
    describe: 'the app to serve: path/to/module[:export] (default export or module.exports)',
    doc: "`path/to/module[:export]`",
    defaultDoc: 'required', default: () => null, parse: optionalString,
  }),
  args: def<readonly string[]>({
    name: 'args', cli: 'rest', group: 'Server',
    describe: "the app's own arguments, after --: its process.argv is [node, APP, ...ARGS], as if `node APP ARGS` ran",
    doc: "the app's own arguments: everything after the first `--` on the command line (never read as prefork options); the worker's `process.argv` is `[node, APP, ...ARGS]`, as if `node APP ARGS` had been run, so CLI entry points run as their users run them: `prefork node_modules/next/dist/bin/next -- start`. In a config file a list (`\"args\": [\"start\"]`), in env a JSON list. A reload applies a change.",
    defaultDoc: 'none', default: () => Object.freeze([]), parse: stringList,
  }),
  bind: def<readonly Bind[]>({
    name: 'bind', onReload: 'restart', alias: 'b', cli: 'array', group: 'Server',
    describe: 'address to listen on (repeatable): HOST:PORT, [IPv6]:PORT, :PORT, unix:PATH, unix://PATH, unix:@NAME (abstract), fd://N',
    value: "ADDR",
    doc: "Repeatable; in env and `--check-config` output comma-separated. `HOST:PORT`, `[IPv6]:PORT`, `:PORT` (all interfaces), `unix:PATH`, `unix://PATH`, `unix:@NAME` (Linux abstract namespace), `fd://N` (inherited descriptor). Port 0 picks a free port (logged).",
    defaultDoc: '127.0.0.1:8000, or 0.0.0.0:$PORT when env PORT is set, or none under systemd socket activation',
    // Under systemd socket activation the passed sockets replace the default bind.
    default: ({ env }) =>
      socketActivated(env) ? []
      : env.PORT !== undefined ? [parseBind(`0.0.0.0:${wholeNumber(0, 65535)(env.PORT, 'env PORT')}`)]
      : [parseBind('127.0.0.1:8000')],
    parse: bindList,
  }),
  workers: def<number>({
    name: 'workers', alias: 'w', cli: 'string', group: 'Workers',
    describe: 'number of worker processes',
    value: "N",
    doc: `worker processes (1–${MAX_WORKERS})`,
    defaultDoc: 'CPUs this process may use (cgroup aware), or env WEB_CONCURRENCY',
    default: ({ env }) => (env.WEB_CONCURRENCY !== undefined ? wholeNumber(1, MAX_WORKERS)(env.WEB_CONCURRENCY, 'env WEB_CONCURRENCY') : availableCpus()),
    parse: wholeNumber(1, MAX_WORKERS),
  }),
  gracefulTimeout: def<number>({
    name: 'graceful-timeout', cli: 'string', group: 'Workers',
    describe: 'seconds a stopping worker may take to finish its requests before it is killed',
    value: "S",
    doc: "on stop, seconds a worker may take to finish its requests before it is killed",
    defaultDoc: '30', default: () => 30, parse: seconds,
  }),
  shutdownDelay: def<number>({
    name: 'shutdown-delay', cli: 'string', group: 'Workers',
    describe: 'seconds to keep serving after TERM/INT before the graceful drain starts, so load balancers stop sending first',
    value: "S",
    doc: "on `TERM`/`INT`, keep serving (and accepting) this long before the graceful drain starts, so load balancers stop sending first; see [Shutdown delay](containers.md#shutdown-delay-and-orchestrators)",
    defaultDoc: '0', default: () => 0, parse: seconds,
  }),
  keepAliveTimeout: def<number>({
    name: 'keep-alive-timeout', cli: 'string', group: 'Server',
    describe: 'seconds an idle keep-alive connection stays open',
    value: "S",
    doc: "idle keep-alive connections close after this",
    defaultDoc: '5', default: () => 5, parse: seconds,
  }),
  backlog: def<number>({
    name: 'backlog', onReload: 'restart', cli: 'string', group: 'Server',
    describe: 'listen backlog: connections the kernel queues while every worker is busy',
    value: "N",
    doc: "listen backlog: connections the kernel queues while every worker is busy",
    defaultDoc: '2048', default: () => 2048, parse: wholeNumber(1, 65535),
  }),
  socketMode: def<number>({
    name: 'socket-mode', onReload: 'restart', cli: 'string', group: 'Server',
    describe: 'permissions of unix socket files, applied at creation (never wider, not even briefly)',
    value: "OCTAL",
    doc: "permissions of unix socket files, set at creation (never wider, not even briefly); always octal digits, in a config file as a string (`\"0660\"`): a number is refused",
    defaultDoc: '0660', default: () => 0o660, parse: octalMode,
  }),
  pidfile: def<string | null>({
    name: 'pidfile', onReload: 'restart', cli: 'string', group: 'Server',
    describe: 'write the master pid here once the sockets are bound; locked, so a second master refuses to start; removed on a clean stop',
    value: "PATH",
    doc: "the master's pid, written atomically once the sockets are bound, locked so a second master refuses (exit 3), removed on a clean stop; see [Pidfile](operating.md#pidfile)",
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  user: def<string | null>({
    name: 'user', onReload: 'restart', cli: 'string', group: 'Workers',
    describe: 'workers drop to this user (name or uid) before loading the app; prefork must start as root, the master stays root',
    value: "U",
    doc: "workers drop to this user (name or uid) before loading the app; prefork must start as root; the master stays root. See [Running as root](security.md#running-as-root--dropping-privileges)",
    defaultDoc: 'none', default: () => null, parse: account('user'),
  }),
  group: def<string | null>({
    name: 'group', onReload: 'restart', cli: 'string', group: 'Workers',
    describe: 'workers drop to this group (name or gid); needs --user',
    value: "G",
    doc: "workers drop to this group (name or gid); needs `--user`",
    defaultDoc: "the --user's primary group", default: () => null, parse: account('group'),
  }),
  socketOwner: def<string | null>({
    name: 'socket-owner', onReload: 'restart', cli: 'string', group: 'Server',
    describe: 'owner of the unix socket files prefork creates: USER, USER:GROUP or :GROUP (e.g. :www-data so nginx can connect)',
    value: "USER[:GROUP]",
    doc: "owner of the unix socket files prefork creates: `USER`, `USER:GROUP` or `:GROUP` (names or ids), e.g. `:www-data` so nginx can connect; needs root",
    defaultDoc: '--user:--group when --user is given, else unchanged', default: () => null, parse: ownerSpec,
  }),
  maxRequests: def<number>({
    name: 'max-requests', cli: 'string', group: 'Workers',
    describe: 'recycle a worker after this many requests (0 = never); caps slow leaks',
    value: "N",
    doc: "recycle a worker after N requests (a promise: it stops accepting at N, so leaks stay capped)",
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0),
  }),
  maxRequestsJitter: def<number>({
    name: 'max-requests-jitter', cli: 'string', group: 'Workers',
    describe: 'add a random 0..J to each worker\'s --max-requests so they do not all recycle together',
    value: "J",
    doc: "each worker's limit is N + a random 0..J, so workers don't all recycle together",
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0),
  }),
  timeout: def<number>({
    name: 'timeout', cli: 'string', group: 'Workers',
    describe: 'seconds a worker\'s event loop may stay blocked before it is killed and replaced (0 = off)',
    value: "S",
    doc: "a worker whose event loop is blocked longer than S is killed (SIGKILL) and replaced (0 = off)",
    defaultDoc: '30', default: () => 30, parse: seconds,
  }),
  maxMemory: def<number>({
    name: 'max-memory', cli: 'string', group: 'Workers',
    describe: 'recycle (gracefully) a worker whose RSS stays above this many MB (0 = off)',
    value: "MB",
    doc: "a worker whose RSS stays above MB (3 heartbeats in a row) is recycled gracefully",
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0, MAX_MEMORY_MB),
  }),
  reloadBatch: def<number>({
    name: 'reload-batch', cli: 'string', group: 'Workers',
    describe: 'replacements running at once during a reload or recycle',
    value: "K",
    doc: "replacements running at once during a reload or memory recycle",
    defaultDoc: '1', default: () => 1, parse: wholeNumber(1, MAX_WORKERS),
  }),
  minUptime: def<number>({
    name: 'min-uptime', cli: 'string', group: 'Workers',
    describe: 'seconds a worker must live; deaths sooner, before it was ever ready, back off exponentially up to 30 s',
    value: "S",
    doc: "a worker that dies sooner than this after its start, before it ever became ready, backs off exponentially (0.1 s doubling, up to 30 s); one that became ready is replaced at once, however young (an OOM kill or an operator's `kill -9` is not a crash loop)",
    defaultDoc: '1', default: () => 1, parse: seconds,
  }),
  bootTimeout: def<number>({
    name: 'boot-timeout', cli: 'string', group: 'Workers',
    describe: 'seconds a new worker has to load the app and serve; later it is killed as a failed boot',
    value: "S",
    doc: "a new worker must be serving by then, or it is killed as a failed boot",
    defaultDoc: '30', default: () => 30, parse: seconds,
  }),
  limitConcurrency: def<number>({
    name: 'limit-concurrency', cli: 'string', group: 'Server',
    describe: 'per-worker cap on requests in flight; beyond it answer 503 with Retry-After (0 = off)',
    value: "N",
    doc: "per-worker cap on requests in flight; beyond it answer `503` with `Retry-After: 1` at once",
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0),
  }),
  headersTimeout: def<number>({
    name: 'headers-timeout', cli: 'string', group: 'Server',
    describe: 'seconds a client has to send the request headers (and, on HTTPS, finish the TLS handshake); later: 408 and close (0 = off)',
    value: "S",
    doc: "a client must send its request headers (on HTTPS: finish the TLS handshake) within S, or gets `408` and is closed (0 = off); see [Slow clients](security.md#slow-clients)",
    defaultDoc: '10', default: () => 10, parse: seconds,
  }),
  requestTimeout: def<number>({
    name: 'request-timeout', cli: 'string', group: 'Server',
    describe: 'seconds a client has to send the whole request, body included; later: 408 and close (0 = off)',
    value: "S",
    doc: "a client must send its whole request, body included, within S, or gets `408` (0 = off); never cuts a slow response",
    defaultDoc: '300', default: () => 300, parse: seconds,
  }),
  maxHeaderSize: def<number>({
    name: 'max-header-size', cli: 'string', group: 'Server',
    describe: 'largest request head (request line and headers) in bytes; larger: 431',
    value: "BYTES",
    doc: "largest request head (request line and headers, min 1024); larger gets `431`",
    defaultDoc: '16384', default: () => 16384, parse: wholeNumber(1024, 2 ** 31 - 1),
  }),
  certfile: def<string | null>({
    name: 'certfile', onReload: 'restart', cli: 'string', group: 'Server',
    describe: 'PEM certificate (chain) file: serve HTTPS on TCP binds (needs --keyfile; unix binds stay HTTP)',
    value: "PATH",
    doc: "PEM certificate (chain): serve HTTPS on every TCP bind; needs `--keyfile`; see [TLS](security.md#tls)",
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  keyfile: def<string | null>({
    name: 'keyfile', onReload: 'restart', cli: 'string', group: 'Server',
    describe: 'PEM private key file for --certfile (read by the master only, before binding)',
    value: "PATH",
    doc: "PEM private key (unencrypted) for `--certfile`; read by the master only",
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  threads: def<number>({
    name: 'threads', cli: 'string', group: 'Workers',
    describe: 'worker threads (tinypool) each worker starts for CPU-heavy work the app hands over with runTask() from prefork/worker (0 = none: tasks run on the main thread)',
    value: "N",
    doc: "worker threads ([tinypool](https://github.com/tinylibs/tinypool)) each worker starts for CPU-heavy work the app hands over with `runTask()` from `prefork/worker` (0–256; 0: tasks run on the worker's main thread); see [Threads](apps.md#threads-for-cpu-heavy-work)",
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0, 256),
  }),
  taskTimeout: def<number>({
    name: 'task-timeout', cli: 'string', group: 'Workers',
    describe: 'seconds a runTask() task may take before it is cancelled (its thread is terminated and replaced) and the caller gets a rejection (0 = off)',
    value: "S",
    doc: "a `runTask()` task not finished S seconds after it was asked for is cancelled (its thread is terminated and replaced) and the caller gets an error with code `ERR_PREFORK_TASK_TIMEOUT`",
    defaultDoc: '0', default: () => 0, parse: seconds,
  }),
  reload: def<boolean>({
    name: 'reload', onReload: 'restart', cli: 'boolean', group: 'Workers',
    describe: "development: watch the app's directory (not node_modules) and do a rolling restart when a file changes",
    doc: "**development only**: watch the app's directory (not `node_modules`) and do a rolling restart when a file changes; see [--reload](apps.md#--reload-for-development)",
    defaultDoc: 'false', default: () => false, parse: boolean,
  }),
  balance: def<boolean>({
    name: 'balance', cli: 'boolean', group: 'Workers',
    describe: 'even out keep-alive connections: a worker holding over 120% of its share closes the excess after their next response (Connection: close) and pauses accepting a moment, so the clients reconnect to the other workers (--no-balance: off)',
    doc: "even out kept-alive connections between workers: a worker holding over 120 % of its share closes the excess after their next response and pauses accepting a moment, so those clients reconnect to the others; see [Connection balance](lifecycle.md#connection-balance)",
    defaultDoc: 'true', default: () => true, parse: boolean,
  }),
  factory: def<boolean>({
    name: 'factory', cli: 'boolean', group: 'Server',
    describe: 'APP is a function (sync or async) that returns the app',
    doc: "APP is a function (sync or async) that returns the app; the worker counts as ready only once it resolves",
    defaultDoc: 'false', default: () => false, parse: boolean,
  }),
  control: def<string | null>({
    name: 'control', onReload: 'restart', cli: 'string', group: 'Server',
    describe: `unix socket (mode 0${CONTROL_SOCKET_MODE.toString(8)}) for \`prefork status|reload|scale|stop --control PATH\``,
    value: "PATH",
    doc: `unix socket (mode 0${CONTROL_SOCKET_MODE.toString(8)}, removed on stop) for \`prefork status\`, \`reload\`, \`scale\`, \`stop\``,
    defaultDoc: 'none', default: () => null, parse: unixPath,
  }),
  metricsBind: def<BindSpec | null>({
    name: 'metrics-bind', onReload: 'restart', cli: 'string', group: 'Server',
    describe: 'address for Prometheus metrics at /metrics and the probes /livez, /readyz, served by the master (HOST:PORT or unix:PATH)',
    value: "ADDR",
    doc: "Prometheus metrics at `/metrics` and the probes `/livez`, `/readyz` (see [Operating](operating.md#probes-livez-and-readyz)), served by the master (`HOST:PORT` or `unix:PATH`), up before the workers start; at most 16 connections at once (more are closed unread), each closed after its response, one rendering shared for 250 ms",
    defaultDoc: 'none', default: () => null, parse: optionalBind,
  }),
  adminBind: def<BindSpec | null>({
    name: 'admin-bind', aliasOf: 'metricsBind', onReload: 'restart', cli: 'string', group: 'Server',
    describe: 'the same as --metrics-bind: the admin listener (/metrics, /livez, /readyz), served by the master',
    value: "ADDR",
    doc: "another name for `--metrics-bind`, for the admin listener it is: `/metrics`, and the probes `/livez` and `/readyz` (see [Operating](operating.md#probes-livez-and-readyz)); across the two names the usual precedence applies (CLI > env > config file), and both from one source must agree",
    defaultDoc: 'none', default: () => null, parse: optionalBind,
  }),
  name: def<string | null>({
    name: 'name', onReload: 'restart', cli: 'string', group: 'Logging',
    describe: 'name shown in process titles (prefork master [NAME]) and logs',
    value: "NAME",
    doc: "process titles `prefork master [NAME]`, `prefork worker 3 [NAME]`; a `name` field in logs",
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  logLevel: def<(typeof LOG_LEVELS)[number]>({
    name: 'log-level', cli: 'string', group: 'Logging',
    describe: `log level: ${LOG_LEVELS.join(', ')}`,
    value: "L",
    doc: "fatal, error, warn, info, debug, trace, silent",
    defaultDoc: 'info', default: () => 'info', parse: oneOf(LOG_LEVELS),
  }),
  logFormat: def<(typeof LOG_FORMATS)[number]>({
    name: 'log-format', cli: 'string', group: 'Logging',
    describe: 'json (one object per line) or pretty (for humans)',
    value: "F",
    doc: "`json` (one object per line) or `pretty`",
    defaultDoc: 'pretty when logging to a TTY, json otherwise (always json into --log-file)',
    default: ({ stdoutIsTTY }) => (stdoutIsTTY ? 'pretty' : 'json'), parse: oneOf(LOG_FORMATS),
  }),
  logFile: def<string | null>({
    name: 'log-file', onReload: 'restart', cli: 'string', group: 'Logging',
    describe: 'append every log line (master, workers, access log, the app\'s own output) to this file; SIGUSR1 reopens it',
    value: "PATH",
    doc: "append every line (master, workers, access log, the app's own output) to PATH; relative to the start directory; `USR1` reopens it (see [Logs](logs.md#logs))",
    defaultDoc: 'stdout', default: () => null, parse: optionalString,
  }),
  accessLog: def<boolean>({
    name: 'access-log', cli: 'boolean', group: 'Logging',
    describe: 'log one JSON line per request (method, path, status, duration, worker)',
    doc: "one JSON line per request, written by the worker that served it: method, path, status, duration (`ms`), worker; JSON even under `--log-format pretty`",
    defaultDoc: 'false', default: () => false, parse: boolean,
  }),
  config: def<string | null>({
    name: 'config', onReload: 'restart', alias: 'c', cli: 'string', group: 'Config',
    describe: 'config file (.json, .js, .mjs, .cjs); CLI > env > config file > defaults',
    value: "FILE",
    doc: "a `.json`, `.js`, `.mjs` or `.cjs` file; keys are option names (`workers`, `gracefulTimeout` or `graceful-timeout`, `bind`, `app`, …)",
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  checkConfig: def<boolean>({
    name: 'check-config', cli: 'boolean', group: 'Config', cliOnly: true,
    describe: 'check what a start checks, without binding or forking, print the resolved configuration as JSON and exit',
    doc: "run every check a start runs without binding or forking (app file, TLS files, `--user`/`--group`, `--pidfile` and unix socket paths, `fd://N`, `--log-file`), print the resolved configuration as JSON and exit 0; a failure exits with the code and line the start would give",
    defaultDoc: 'false', default: () => false, parse: boolean,
  }),
} as const;

export type OptionKey = keyof typeof OPTIONS;
type ValueOf<D> = D extends OptionDef<infer T> ? T : never;

/** The resolved, validated, frozen configuration. */
export type Config = { readonly [K in OptionKey]: ValueOf<(typeof OPTIONS)[K]> };

export const optionKeys = Object.keys(OPTIONS) as OptionKey[];

/** Where a config file or serve() may give a looser form than the resolved value. */
interface InputForms {
  bind: string | readonly string[];
  /** Octal digits, e.g. "0660" (see octalMode). */
  socketMode: string;
}

/** The options marked cliOnly above (test/unit/options checks the two agree). */
export type CliOnlyKey = 'checkConfig';

/**
 * What a config file (`export default defineConfig({...})`) or `serve({...})` may give: every
 * option but the CLI-only ones, by its camelCase name, all optional. Derived from the table.
 */
export type ConfigInput = {
  readonly [K in Exclude<OptionKey, CliOnlyKey>]?: K extends keyof InputForms
    ? InputForms[K]
    : Exclude<Config[K], null>;
};

export const envName = (d: OptionDef<unknown>): string => `PREFORK_${d.name.toUpperCase().replace(/-/g, '_')}`;
