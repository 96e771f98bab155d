import { isIP, isIPv4, isIPv6 } from 'node:net';
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

/** sun_path is 108 bytes including the terminating NUL; the kernel would silently truncate. */
export const UNIX_PATH_MAX_BYTES = 107;

const EXPECTED = 'expected HOST:PORT, [IPv6]:PORT, :PORT, unix:PATH, unix://PATH, unix:@NAME or fd://N';

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

/** The canonical string: parseBind(formatBind(b)) deep-equals b. */
export function formatBind(bind: BindSpec): string {
  switch (bind.kind) {
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
