import { type BindSpec, parseBind } from './bind.js';
import { usageError } from './exit-codes.js';
import { availableCpus } from './cpus.js';
import { socketActivated } from './socket-activation.js';
import { MAX_TIMER_SECONDS } from './timers.js';
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

/** Raw values arrive as strings (CLI, env) or as JSON/JS values (config file). */
type Parse<T> = (raw: unknown, label: string) => T;

export interface OptionDef<T> {
  /** kebab-case: the flag is --NAME, the env var PREFORK_NAME, the config key camelCase or NAME. */
  readonly name: string;
  readonly alias?: string;
  /** How yargs reads the flag; every value still goes through parse(). */
  readonly cli: 'string' | 'boolean' | 'array' | 'positional';
  readonly describe: string;
  readonly defaultDoc: string;
  readonly default: (ctx: DefaultContext) => T;
  readonly parse: Parse<T>;
  /** Only on the command line (not env, not config file). */
  readonly cliOnly?: boolean;
  readonly group: 'Server' | 'Workers' | 'Logging' | 'Config';
}

const def = <T>(d: OptionDef<T>): OptionDef<T> => d;

/** A value as the user wrote it; JSON.stringify would show 1e400 (Infinity) and NaN as null. */
export function showValue(raw: unknown): string {
  if (typeof raw === 'number' && !Number.isFinite(raw)) return String(raw);
  return JSON.stringify(raw) ?? String(raw);
}

function bad(label: string, raw: unknown, expected: string): never {
  throw usageError(`invalid ${label} ${showValue(raw)}: expected ${expected}`);
}

/** A number as decimal text: a JSON number or a string of digits, never 1e3, Infinity or 0x10. */
const decimalText = (raw: unknown): string =>
  typeof raw === 'number' ? (Number.isFinite(raw) ? String(raw) : '') : typeof raw === 'string' ? raw.trim() : '';

export const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER): Parse<number> => (raw, label) => {
  const text = decimalText(raw);
  const expected = max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`;
  if (!/^\d+$/.test(text)) bad(label, raw, expected);
  const value = Number(text);
  if (value < min || value > max) bad(label, raw, expected);
  return value;
};

/**
 * Every duration option: seconds, fractions allowed, at most what a Node timer can hold (see
 * timers.ts). The one validator for them, whatever the source (CLI, env, config file, serve()).
 */
export const seconds: Parse<number> = (raw, label) => {
  const text = decimalText(raw);
  const expected = `a number of seconds from 0 to ${MAX_TIMER_SECONDS} (about 24.8 days), e.g. 30 or 0.5`;
  if (!/^\d+(\.\d+)?$/.test(text)) bad(label, raw, expected);
  const value = Number(text);
  if (value > MAX_TIMER_SECONDS) bad(label, raw, expected);
  return value;
};

const boolean: Parse<boolean> = (raw, label) => {
  if (typeof raw === 'boolean') return raw;
  const text = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(text) && typeof raw === 'string') return false;
  return bad(label, raw, 'true or false');
};

const oneOf = <T extends string>(values: readonly T[]): Parse<T> => (raw, label) => {
  if (typeof raw === 'string' && (values as readonly string[]).includes(raw)) return raw as T;
  return bad(label, raw, `one of ${values.join(', ')}`);
};

const nonEmptyString: Parse<string> = (raw, label) => {
  if (typeof raw !== 'string' || raw.trim() === '') bad(label, raw, 'a non-empty string');
  return raw;
};

const optionalString: Parse<string | null> = (raw, label) => (raw === null ? null : nonEmptyString(raw, label));

/**
 * Always octal digits in a string, from every source: a number would mean 0o440 on the command
 * line but 440 (0o670) in JSON, which has no octal literals, so numbers are refused.
 */
export const octalMode: Parse<number> = (raw, label) => {
  const expected = 'an octal file mode from 0000 to 0777, e.g. 0660';
  const asString = 'an octal file mode as a string, e.g. "0660" (a number would read as decimal)';
  if (typeof raw === 'number') bad(label, raw, asString);
  const text = typeof raw === 'string' ? raw.trim().replace(/^0o/i, '') : '';
  if (!/^[0-7]{1,4}$/.test(text)) bad(label, raw, expected);
  const mode = parseInt(text, 8);
  if (mode > 0o777) bad(label, raw, expected);
  return mode;
};

const optionalBind: Parse<BindSpec | null> = (raw, label) => {
  if (raw === null) return null;
  if (typeof raw !== 'string') bad(label, raw, 'a bind address string');
  return parseBind(raw, label);
};

/** The control socket is a unix path: it is guarded by file permissions (0600), TCP is not. */
const unixPath: Parse<string | null> = (raw, label) => {
  if (raw === null) return null;
  const path = nonEmptyString(raw, label);
  const bind = parseBind(path.startsWith('unix:') ? path : `unix:${path}`, label);
  if (bind.kind !== 'unix') bad(label, raw, 'a unix socket path (an abstract name has no permissions to guard it)');
  return bind.path;
};

const bindList: Parse<readonly BindSpec[]> = (raw, label) => {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : bad(label, raw, 'a bind address or a list of them');
  if (items.length === 0) bad(label, raw, 'at least one bind address');
  return items.map((item) => {
    if (typeof item !== 'string') bad(label, item, 'a bind address string');
    return parseBind(item, label);
  });
};

/** What useradd and groupadd accept (plus numeric ids); names are resolved when prefork starts. */
const ACCOUNT = /^[A-Za-z0-9_.][A-Za-z0-9_.$-]*$/;

/** A user or group as the system knows it: a name, or a numeric id. */
const account = (what: 'user' | 'group'): Parse<string | null> => (raw, label) => {
  if (raw === null) return null;
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string' || !ACCOUNT.test(text)) bad(label, raw, `a ${what} name or a numeric id`);
  return text;
};

/** USER, USER:GROUP or :GROUP, like chown's argument. */
const ownerSpec: Parse<string | null> = (raw, label) => {
  if (raw === null) return null;
  const expected = 'USER, USER:GROUP or :GROUP (names or numeric ids)';
  if (typeof raw !== 'string') bad(label, raw, expected);
  const parts = raw.split(':');
  const [user = '', group = ''] = parts;
  if (parts.length > 2 || (user === '' && group === '') || (user !== '' && !ACCOUNT.test(user)) || (parts.length === 2 && !ACCOUNT.test(group))) bad(label, raw, expected);
  return raw;
};

/** --max-memory is compared in bytes: beyond this, MB * 1048576 is no longer an exact number. */
const MAX_MEMORY_MB = Math.floor(Number.MAX_SAFE_INTEGER / 1048576);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;

export const OPTIONS = {
  app: def<string | null>({
    name: 'app', cli: 'positional', group: 'Server',
    describe: 'the app to serve: path/to/module[:export] (default export or module.exports)',
    defaultDoc: 'required', default: () => null, parse: optionalString,
  }),
  bind: def<readonly BindSpec[]>({
    name: 'bind', alias: 'b', cli: 'array', group: 'Server',
    describe: 'address to listen on (repeatable): HOST:PORT, [IPv6]:PORT, :PORT, unix:PATH, unix://PATH, unix:@NAME (abstract), fd://N',
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
    defaultDoc: 'CPUs this process may use (cgroup aware), or env WEB_CONCURRENCY',
    default: ({ env }) => (env.WEB_CONCURRENCY !== undefined ? wholeNumber(1, MAX_WORKERS)(env.WEB_CONCURRENCY, 'env WEB_CONCURRENCY') : availableCpus()),
    parse: wholeNumber(1, MAX_WORKERS),
  }),
  gracefulTimeout: def<number>({
    name: 'graceful-timeout', cli: 'string', group: 'Workers',
    describe: 'seconds a stopping worker may take to finish its requests before it is killed',
    defaultDoc: '30', default: () => 30, parse: seconds,
  }),
  shutdownDelay: def<number>({
    name: 'shutdown-delay', cli: 'string', group: 'Workers',
    describe: 'seconds to keep serving after TERM/INT before the graceful drain starts, so load balancers stop sending first',
    defaultDoc: '0', default: () => 0, parse: seconds,
  }),
  keepAliveTimeout: def<number>({
    name: 'keep-alive-timeout', cli: 'string', group: 'Server',
    describe: 'seconds an idle keep-alive connection stays open',
    defaultDoc: '5', default: () => 5, parse: seconds,
  }),
  backlog: def<number>({
    name: 'backlog', cli: 'string', group: 'Server',
    describe: 'listen backlog: connections the kernel queues while every worker is busy',
    defaultDoc: '2048', default: () => 2048, parse: wholeNumber(1, 65535),
  }),
  socketMode: def<number>({
    name: 'socket-mode', cli: 'string', group: 'Server',
    describe: 'permissions of unix socket files, applied at creation (never wider, not even briefly)',
    defaultDoc: '0660', default: () => 0o660, parse: octalMode,
  }),
  pidfile: def<string | null>({
    name: 'pidfile', cli: 'string', group: 'Server',
    describe: 'write the master pid here once the sockets are bound; locked, so a second master refuses to start; removed on a clean stop',
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  user: def<string | null>({
    name: 'user', cli: 'string', group: 'Workers',
    describe: 'workers drop to this user (name or uid) before loading the app; prefork must start as root, the master stays root',
    defaultDoc: 'none', default: () => null, parse: account('user'),
  }),
  group: def<string | null>({
    name: 'group', cli: 'string', group: 'Workers',
    describe: 'workers drop to this group (name or gid); needs --user',
    defaultDoc: "the --user's primary group", default: () => null, parse: account('group'),
  }),
  socketOwner: def<string | null>({
    name: 'socket-owner', cli: 'string', group: 'Server',
    describe: 'owner of the unix socket files prefork creates: USER, USER:GROUP or :GROUP (e.g. :www-data so nginx can connect)',
    defaultDoc: '--user:--group when --user is given, else unchanged', default: () => null, parse: ownerSpec,
  }),
  maxRequests: def<number>({
    name: 'max-requests', cli: 'string', group: 'Workers',
    describe: 'recycle a worker after this many requests (0 = never); caps slow leaks',
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0),
  }),
  maxRequestsJitter: def<number>({
    name: 'max-requests-jitter', cli: 'string', group: 'Workers',
    describe: 'add a random 0..J to each worker\'s --max-requests so they do not all recycle together',
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0),
  }),
  timeout: def<number>({
    name: 'timeout', cli: 'string', group: 'Workers',
    describe: 'seconds a worker\'s event loop may stay blocked before it is killed and replaced (0 = off)',
    defaultDoc: '30', default: () => 30, parse: seconds,
  }),
  maxMemory: def<number>({
    name: 'max-memory', cli: 'string', group: 'Workers',
    describe: 'recycle (gracefully) a worker whose RSS stays above this many MB (0 = off)',
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0, MAX_MEMORY_MB),
  }),
  reloadBatch: def<number>({
    name: 'reload-batch', cli: 'string', group: 'Workers',
    describe: 'replacements running at once during a reload or recycle',
    defaultDoc: '1', default: () => 1, parse: wholeNumber(1, MAX_WORKERS),
  }),
  minUptime: def<number>({
    name: 'min-uptime', cli: 'string', group: 'Workers',
    describe: 'seconds a worker must live; deaths sooner back off exponentially up to 30 s',
    defaultDoc: '1', default: () => 1, parse: seconds,
  }),
  bootTimeout: def<number>({
    name: 'boot-timeout', cli: 'string', group: 'Workers',
    describe: 'seconds a new worker has to load the app and serve; later it is killed as a failed boot',
    defaultDoc: '30', default: () => 30, parse: seconds,
  }),
  limitConcurrency: def<number>({
    name: 'limit-concurrency', cli: 'string', group: 'Server',
    describe: 'per-worker cap on requests in flight; beyond it answer 503 with Retry-After (0 = off)',
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0),
  }),
  headersTimeout: def<number>({
    name: 'headers-timeout', cli: 'string', group: 'Server',
    describe: 'seconds a client has to send the request headers (and, on HTTPS, finish the TLS handshake); later: 408 and close (0 = off)',
    defaultDoc: '10', default: () => 10, parse: seconds,
  }),
  requestTimeout: def<number>({
    name: 'request-timeout', cli: 'string', group: 'Server',
    describe: 'seconds a client has to send the whole request, body included; later: 408 and close (0 = off)',
    defaultDoc: '300', default: () => 300, parse: seconds,
  }),
  maxHeaderSize: def<number>({
    name: 'max-header-size', cli: 'string', group: 'Server',
    describe: 'largest request head (request line and headers) in bytes; larger: 431',
    defaultDoc: '16384', default: () => 16384, parse: wholeNumber(1024, 2 ** 31 - 1),
  }),
  certfile: def<string | null>({
    name: 'certfile', cli: 'string', group: 'Server',
    describe: 'PEM certificate (chain) file: serve HTTPS on TCP binds (needs --keyfile; unix binds stay HTTP)',
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  keyfile: def<string | null>({
    name: 'keyfile', cli: 'string', group: 'Server',
    describe: 'PEM private key file for --certfile (read by the master only, before binding)',
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  threads: def<number>({
    name: 'threads', cli: 'string', group: 'Workers',
    describe: 'worker threads (tinypool) each worker starts for CPU-heavy work the app hands over with runTask() from prefork/worker (0 = none: tasks run on the main thread)',
    defaultDoc: '0', default: () => 0, parse: wholeNumber(0, 256),
  }),
  taskTimeout: def<number>({
    name: 'task-timeout', cli: 'string', group: 'Workers',
    describe: 'seconds a runTask() task may take before it is cancelled (its thread is terminated and replaced) and the caller gets a rejection (0 = off)',
    defaultDoc: '0', default: () => 0, parse: seconds,
  }),
  reload: def<boolean>({
    name: 'reload', cli: 'boolean', group: 'Workers',
    describe: "development: watch the app's directory (not node_modules) and do a rolling restart when a file changes",
    defaultDoc: 'false', default: () => false, parse: boolean,
  }),
  balance: def<boolean>({
    name: 'balance', cli: 'boolean', group: 'Workers',
    describe: 'even out keep-alive connections: a worker holding over 120% of its share closes the excess after their next response (Connection: close) and pauses accepting a moment, so the clients reconnect to the other workers (--no-balance: off)',
    defaultDoc: 'true', default: () => true, parse: boolean,
  }),
  factory: def<boolean>({
    name: 'factory', cli: 'boolean', group: 'Server',
    describe: 'APP is a function (sync or async) that returns the app',
    defaultDoc: 'false', default: () => false, parse: boolean,
  }),
  control: def<string | null>({
    name: 'control', cli: 'string', group: 'Server',
    describe: `unix socket (mode 0${CONTROL_SOCKET_MODE.toString(8)}) for \`prefork status|reload|scale|stop --control PATH\``,
    defaultDoc: 'none', default: () => null, parse: unixPath,
  }),
  metricsBind: def<BindSpec | null>({
    name: 'metrics-bind', cli: 'string', group: 'Server',
    describe: 'address for Prometheus metrics at /metrics, served by the master (HOST:PORT or unix:PATH)',
    defaultDoc: 'none', default: () => null, parse: optionalBind,
  }),
  name: def<string | null>({
    name: 'name', cli: 'string', group: 'Logging',
    describe: 'name shown in process titles (prefork master [NAME]) and logs',
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  logLevel: def<(typeof LOG_LEVELS)[number]>({
    name: 'log-level', cli: 'string', group: 'Logging',
    describe: `log level: ${LOG_LEVELS.join(', ')}`,
    defaultDoc: 'info', default: () => 'info', parse: oneOf(LOG_LEVELS),
  }),
  logFormat: def<(typeof LOG_FORMATS)[number]>({
    name: 'log-format', cli: 'string', group: 'Logging',
    describe: 'json (one object per line) or pretty (for humans)',
    defaultDoc: 'pretty when logging to a TTY, json otherwise (always json into --log-file)',
    default: ({ stdoutIsTTY }) => (stdoutIsTTY ? 'pretty' : 'json'), parse: oneOf(LOG_FORMATS),
  }),
  logFile: def<string | null>({
    name: 'log-file', cli: 'string', group: 'Logging',
    describe: 'append every log line (master, workers, access log, the app\'s own output) to this file; SIGUSR1 reopens it',
    defaultDoc: 'stdout', default: () => null, parse: optionalString,
  }),
  accessLog: def<boolean>({
    name: 'access-log', cli: 'boolean', group: 'Logging',
    describe: 'log one JSON line per request (method, path, status, duration, worker)',
    defaultDoc: 'false', default: () => false, parse: boolean,
  }),
  config: def<string | null>({
    name: 'config', alias: 'c', cli: 'string', group: 'Config',
    describe: 'config file (.json, .js, .mjs, .cjs); CLI > env > config file > defaults',
    defaultDoc: 'none', default: () => null, parse: optionalString,
  }),
  checkConfig: def<boolean>({
    name: 'check-config', cli: 'boolean', group: 'Config', cliOnly: true,
    describe: 'check what a start checks, without binding or forking, print the resolved configuration as JSON and exit',
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
  readonly [K in Exclude<OptionKey, CliOnlyKey>]?: K extends keyof InputForms ? InputForms[K] : Exclude<Config[K], null>;
};

export const envName = (d: OptionDef<unknown>): string => `PREFORK_${d.name.toUpperCase().replace(/-/g, '_')}`;
