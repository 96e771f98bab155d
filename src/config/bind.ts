import { isIP, isIPv4, isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { usageError } from '../shared/exit-codes.js';

/** Where a listening socket lives. The one place that parses and formats bind strings. */
export type BindSpec =
  /** host '' means every interface (dual-stack where the kernel allows it). */
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  /** Linux abstract namespace: no file, no permissions, gone with the last descriptor. */
  | { kind: 'abstract'; name: string }
  /** A descriptor inherited from whoever started us (systemd, a hot upgrade, a test). */
  | { kind: 'fd'; fd: number };

/**
 * A per-worker bind: one socket per worker slot, `{worker}` standing for the slot id
 * (PREFORK_WORKER_ID). A unix path or abstract name holds `{worker}` as is; a TCP port is
 * `{BASE+worker}`. expandBind() gives one slot's address.
 */
export type PerWorkerBind =
  | { kind: 'per-worker'; of: 'unix'; path: string }
  | { kind: 'per-worker'; of: 'abstract'; name: string }
  | { kind: 'per-worker'; of: 'tcp'; host: string; base: number };

/** A --bind value: one socket shared by every worker, or one per worker. */
export type Bind = BindSpec | PerWorkerBind;

/** sun_path is 108 bytes including the terminating NUL; the kernel would silently truncate. */
export const UNIX_PATH_MAX_BYTES = 107;

const EXPECTED = 'expected HOST:PORT, [IPv6]:PORT, :PORT, unix:PATH, unix://PATH, unix:@NAME or fd://N';
const EXPECTED_PER_WORKER =
  'expected unix:PATH with {worker} in it (unix:/run/app/web-{worker}.sock), unix:@NAME-{worker} or HOST:{BASE+worker} (127.0.0.1:{9000+worker})';
/** `{worker}`, `{9000+worker}` or any other brace group naming the worker. */
const WORKER_TOKEN = /\{[^{}]*worker[^{}]*\}/i;
const TCP_TEMPLATE = /^(.*):\{(\d{1,5})\+worker\}$/;

/** Reports a bad bind string; `source` names where it came from ("--bind", "env PREFORK_BIND"). */
type Fail = (raw: string, why: string) => never;

const failFor =
  (source: string): Fail =>
  (raw, why) => {
    // JSON quoting keeps a value with control characters on one line.
    throw usageError(`invalid ${source} ${JSON.stringify(raw)}: ${why}`);
  };

function parsePort(fail: Fail, raw: string, text: string): number {
  if (!/^\d{1,5}$/.test(text)) fail(raw, `port "${text}" is not a number from 0 to 65535`);
  const port = Number(text);
  if (port > 65535) fail(raw, `port ${port} is out of range 0-65535`);
  return port;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function parseTcp(fail: Fail, raw: string): BindSpec {
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    if (close < 0) fail(raw, 'missing "]" after the IPv6 address');
    const host = raw.slice(1, close);
    if (!isIPv6(host)) fail(raw, `"${host}" is not an IPv6 address`);
    if (raw[close + 1] !== ':') fail(raw, `missing ":PORT" after [${host}]`);
    return { kind: 'tcp', host, port: parsePort(fail, raw, raw.slice(close + 2)) };
  }
  const colon = raw.lastIndexOf(':');
  if (colon < 0) {
    const hint = /^\d+$/.test(raw) ? ` (did you mean ":${raw}" or "127.0.0.1:${raw}"?)` : '';
    fail(raw, `${EXPECTED}${hint}`);
  }
  const host = raw.slice(0, colon);
  if (host.includes(':')) fail(raw, `an IPv6 address needs brackets: [${host}]:PORT`);
  if (host !== '' && isIP(host) === 0 && !HOSTNAME.test(host)) fail(raw, `"${host}" is not a host name or IP address`);
  return { kind: 'tcp', host, port: parsePort(fail, raw, raw.slice(colon + 1)) };
}

function parseUnix(fail: Fail, raw: string, rest: string): BindSpec {
  if (rest === '') fail(raw, 'the socket path is empty');
  if (rest.includes('\0')) fail(raw, 'the socket path contains a NUL byte');
  if (rest.startsWith('@')) {
    const name = rest.slice(1);
    if (name === '') fail(raw, 'the abstract socket name is empty');
    if (Buffer.byteLength(name) + 1 > UNIX_PATH_MAX_BYTES + 1) {
      fail(raw, `the abstract name is ${Buffer.byteLength(name)} bytes; the kernel allows ${UNIX_PATH_MAX_BYTES}`);
    }
    return { kind: 'abstract', name };
  }
  const bytes = Buffer.byteLength(rest);
  if (bytes > UNIX_PATH_MAX_BYTES) {
    fail(
      raw,
      `the path is ${bytes} bytes; unix socket paths may have at most ${UNIX_PATH_MAX_BYTES} (use a shorter directory such as /run/APP)`,
    );
  }
  return { kind: 'unix', path: rest };
}

export function parseBind(raw: string, source = 'bind'): BindSpec {
  const fail = failFor(source);
  const text = raw.trim();
  if (WORKER_TOKEN.test(text)) fail(raw, '{worker} (one socket per worker) is only for --bind');
  if (text === '') fail(raw, EXPECTED);
  if (text.startsWith('unix://')) return parseUnix(fail, raw, text.slice('unix://'.length));
  if (text.startsWith('unix:')) return parseUnix(fail, raw, text.slice('unix:'.length));
  if (text.startsWith('fd://')) {
    const digits = text.slice('fd://'.length);
    if (!/^\d{1,9}$/.test(digits)) fail(raw, `"${digits}" is not a file descriptor number`);
    return { kind: 'fd', fd: Number(digits) };
  }
  if (/^[a-z]+:\/\//i.test(text)) fail(raw, EXPECTED);
  return parseTcp(fail, text);
}

/**
 * A --bind value: parseBind(), or a per-worker bind when `{worker}` appears in it. `{worker}`
 * anywhere but a unix path, an abstract name or a TCP port with a base is refused (exit 2).
 */
export function parseBindOrTemplate(raw: string, source = 'bind'): Bind {
  const text = raw.trim();
  if (!WORKER_TOKEN.test(text)) return parseBind(raw, source);
  const fail: Fail = failFor(source);
  if (text.startsWith('fd://'))
    fail(
      raw,
      `fd://N is one inherited descriptor, shared by every worker: for one socket per worker ${EXPECTED_PER_WORKER}`,
    );
  const unix = text.startsWith('unix://') ? 'unix://' : text.startsWith('unix:') ? 'unix:' : null;
  if (unix !== null) {
    const rest = text.slice(unix.length);
    const odd = rest.replaceAll('{worker}', '').match(WORKER_TOKEN);
    if (odd !== null) fail(raw, `in a socket path the worker id is written {worker}, not ${odd[0]}`);
    // Checked as worker 0's; expandBind() checks each slot's length again.
    const spec = parseUnix(fail, raw, rest.replaceAll('{worker}', '0'));
    return spec.kind === 'abstract'
      ? { kind: 'per-worker', of: 'abstract', name: rest.slice(1) }
      : { kind: 'per-worker', of: 'unix', path: rest };
  }
  const tcp = TCP_TEMPLATE.exec(text);
  if (tcp === null || WORKER_TOKEN.test(tcp[1]!)) {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && WORKER_TOKEN.test(text.slice(0, colon)))
      fail(raw, '{worker} goes in the port, not the host: HOST:{BASE+worker}, e.g. 127.0.0.1:{9000+worker}');
    if (colon >= 0 && /^\{worker\}$/i.test(text.slice(colon + 1)))
      fail(raw, 'a TCP port needs a base: HOST:{BASE+worker}, e.g. 127.0.0.1:{9000+worker} (port = BASE + worker id)');
    fail(raw, EXPECTED_PER_WORKER);
  }
  const [, host, digits] = tcp;
  const spec = parseTcp(fail, `${host}:${digits}`) as Extract<BindSpec, { kind: 'tcp' }>;
  if (spec.port === 0) fail(raw, 'the base port must be from 1 to 65535 (port = BASE + worker id)');
  return { kind: 'per-worker', of: 'tcp', host: spec.host, base: spec.port };
}

/**
 * One slot's address of a per-worker bind. A slot the address cannot take (a port above
 * 65535, a path too long) is a usage error naming the bind and the slot.
 */
export function expandBind(bind: PerWorkerBind, slot: number, source = 'bind'): BindSpec {
  const fail: Fail = (raw, why) => failFor(source)(raw, `worker ${slot}: ${why}`);
  const raw = formatBind(bind);
  switch (bind.of) {
    case 'tcp': {
      const port = bind.base + slot;
      if (port > 65535) fail(raw, `its port would be ${port}; ports go up to 65535`);
      return { kind: 'tcp', host: bind.host, port };
    }
    case 'unix':
      return parseUnix(fail, raw, bind.path.replaceAll('{worker}', String(slot)));
    case 'abstract':
      return parseUnix(fail, raw, `@${bind.name.replaceAll('{worker}', String(slot))}`);
  }
}

/**
 * What makes two binds the same address (null: never the same, e.g. port 0): a second bind of
 * it would replace the first's socket file, or bind the same port twice and fail in a worker.
 */
export function addressKey(bind: BindSpec, cwd: string): string | null {
  switch (bind.kind) {
    case 'tcp':
      return bind.port === 0 ? null : `tcp ${bind.host.toLowerCase()} ${bind.port}`;
    case 'unix':
      return `unix ${resolve(cwd, bind.path)}`;
    case 'abstract':
      return `abstract ${bind.name}`;
    case 'fd':
      return `fd ${bind.fd}`;
  }
}

/** The canonical string: parseBindOrTemplate(formatBind(b)) deep-equals b. */
export function formatBind(bind: Bind): string {
  switch (bind.kind) {
    case 'per-worker':
      if (bind.of === 'tcp')
        return `${formatBind({ kind: 'tcp', host: bind.host, port: 0 }).slice(0, -1)}{${bind.base}+worker}`;
      return formatBind(bind.of === 'unix' ? { kind: 'unix', path: bind.path } : { kind: 'abstract', name: bind.name });
    case 'tcp':
      return `${bind.host.includes(':') ? `[${bind.host}]` : bind.host}:${bind.port}`;
    case 'unix':
      // "unix://" + "//x" would read back as "//x" with the URL prefix stripped; keep it exact.
      return bind.path.startsWith('//') ? `unix://${bind.path}` : `unix:${bind.path}`;
    case 'abstract':
      return `unix:@${bind.name}`;
    case 'fd':
      return `fd://${bind.fd}`;
  }
}

/** A bound TCP address as the kernel reports it (getsockname). */
export interface BoundAddress {
  address: string;
  port: number;
}

/**
 * Whether two bound addresses take the same port on a common interface: the same address, or
 * one is a wildcard covering the other (:: is dual-stack, 0.0.0.0 covers every IPv4 address).
 * The master binds without listening, so the kernel lets both through and a worker's listen()
 * would fail later.
 */
export function addressesOverlap(a: BoundAddress, b: BoundAddress): boolean {
  if (a.port !== b.port) return false;
  const plain = (x: string): string => (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(x) ? x.slice(7) : x.toLowerCase());
  const [x, y] = [plain(a.address), plain(b.address)];
  if (x === y || x === '::' || y === '::') return true;
  return (x === '0.0.0.0' && isIPv4(y)) || (y === '0.0.0.0' && isIPv4(x));
}
