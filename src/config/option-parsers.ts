import { type Bind, type BindSpec, parseBind, parseBindOrTemplate } from './bind.js';
import { usageError } from '../shared/exit-codes.js';
import { MAX_TIMER_SECONDS } from '../shared/timers.js';

/**
 * The value parsers of the option table (options.ts): each takes a raw value from any source and
 * returns it validated, or throws a usage error naming the bad value and what is expected.
 */

/** Raw values arrive as strings (CLI, env) or as JSON/JS values (config file). */
export type Parse<T> = (raw: unknown, label: string) => T;

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

export const wholeNumber =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parse<number> =>
  (raw, label) => {
    const text = decimalText(raw);
    const expected =
      max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`;
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

export const boolean: Parse<boolean> = (raw, label) => {
  if (typeof raw === 'boolean') return raw;
  const text = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(text) && typeof raw === 'string') return false;
  return bad(label, raw, 'true or false');
};

export const oneOf =
  <T extends string>(values: readonly T[]): Parse<T> =>
  (raw, label) => {
    if (typeof raw === 'string' && (values as readonly string[]).includes(raw)) return raw as T;
    return bad(label, raw, `one of ${values.join(', ')}`);
  };

const nonEmptyString: Parse<string> = (raw, label) => {
  if (typeof raw !== 'string' || raw.trim() === '') bad(label, raw, 'a non-empty string');
  return raw;
};

export const optionalString: Parse<string | null> = (raw, label) => (raw === null ? null : nonEmptyString(raw, label));

/** The app's own arguments: a list of strings; from env, the same list as JSON text. */
export const stringList: Parse<readonly string[]> = (raw, label) => {
  const expected = 'a list of strings, e.g. ["start"] (in env as JSON)';
  let list: unknown = raw;
  if (typeof raw === 'string') {
    try {
      list = JSON.parse(raw);
    } catch {
      bad(label, raw, expected);
    }
  }
  if (!Array.isArray(list) || !list.every((a) => typeof a === 'string')) bad(label, raw, expected);
  return Object.freeze([...(list as string[])]);
};

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

export const optionalBind: Parse<BindSpec | null> = (raw, label) => {
  if (raw === null) return null;
  if (typeof raw !== 'string') bad(label, raw, 'a bind address string');
  return parseBind(raw, label);
};

/** The control socket is a unix path: it is guarded by file permissions (0600), TCP is not. */
export const unixPath: Parse<string | null> = (raw, label) => {
  if (raw === null) return null;
  const path = nonEmptyString(raw, label);
  const bind = parseBind(path.startsWith('unix:') ? path : `unix:${path}`, label);
  if (bind.kind !== 'unix') bad(label, raw, 'a unix socket path (an abstract name has no permissions to guard it)');
  return bind.path;
};

export const bindList: Parse<readonly Bind[]> = (raw, label) => {
  const items = Array.isArray(raw)
    ? raw
    : typeof raw === 'string'
      ? raw.split(',')
      : bad(label, raw, 'a bind address or a list of them');
  if (items.length === 0) bad(label, raw, 'at least one bind address');
  return items.map((item) => {
    if (typeof item !== 'string') bad(label, item, 'a bind address string');
    return parseBindOrTemplate(item, label);
  });
};

/** What useradd and groupadd accept (plus numeric ids); names are resolved when prefork starts. */
const ACCOUNT = /^[A-Za-z0-9_.][A-Za-z0-9_.$-]*$/;

/** A user or group as the system knows it: a name, or a numeric id. */
export const account =
  (what: 'user' | 'group'): Parse<string | null> =>
  (raw, label) => {
    if (raw === null) return null;
    const text = typeof raw === 'number' ? String(raw) : raw;
    if (typeof text !== 'string' || !ACCOUNT.test(text)) bad(label, raw, `a ${what} name or a numeric id`);
    return text;
  };

/** USER, USER:GROUP or :GROUP, like chown's argument. */
export const ownerSpec: Parse<string | null> = (raw, label) => {
  if (raw === null) return null;
  const expected = 'USER, USER:GROUP or :GROUP (names or numeric ids)';
  if (typeof raw !== 'string') bad(label, raw, expected);
  const parts = raw.split(':');
  const [user = '', group = ''] = parts;
  if (
    parts.length > 2 ||
    (user === '' && group === '') ||
    (user !== '' && !ACCOUNT.test(user)) ||
    (parts.length === 2 && !ACCOUNT.test(group))
  )
    bad(label, raw, expected);
  return raw;
};
