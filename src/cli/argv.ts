import { usageError } from '../shared/exit-codes.js';
import { type OptionDef, type OptionKey, OPTIONS, optionKeys } from '../config/options.js';
import { closest } from '../config/suggest.js';
import { util } from '../shared/builtins.js';

const { parseArgs } = util;

/**
 * The fast path for the server command line: node's own parseArgs, driven by the same option
 * table as yargs. yargs costs the master about 14 MB of memory and 70 ms of start-up, so it is
 * loaded only for what this path leaves to it: --help, --version, `--no-` negations and any
 * command line this path cannot read (unknown options, missing values, extra arguments), where
 * yargs writes the error. Returns null for those.
 */
export function fastParse(argv: readonly string[]): Partial<Record<OptionKey, unknown>> | null {
  if (argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a.startsWith('--no-'))) return null;
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple: true }> = {};
  for (const key of optionKeys) {
    const d = OPTIONS[key] as OptionDef<unknown>;
    if (d.cli === 'positional' || d.cli === 'rest') continue;
    // Every option may repeat: a list option (--bind) keeps every value, the others keep the last
    // (see lastValue).
    options[d.name] = {
      type: d.cli === 'boolean' ? 'boolean' : 'string',
      multiple: true,
      ...(d.alias ? { short: d.alias } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch {
    return null;
  }
  if (parsed.positionals.length > 1) return null;
  const values: Partial<Record<OptionKey, unknown>> = {};
  for (const key of optionKeys) {
    const d = OPTIONS[key] as OptionDef<unknown>;
    if (d.cli === 'positional') {
      if (parsed.positionals[0] !== undefined) values[key] = parsed.positionals[0];
      continue;
    }
    if (d.cli === 'rest') continue;
    const raw = (parsed.values as Record<string, unknown[] | undefined>)[d.name];
    if (raw === undefined) continue;
    // yargs treats a string option's value that looks like an option ("-w --bind") as missing.
    if (
      d.cli !== 'boolean' &&
      raw.some((v) => typeof v === 'string' && v.startsWith('-') && v.length > 1 && !/^-\d/.test(v))
    )
      return null;
    values[key] = raw.length === 1 ? raw[0] : lastValue(d, raw);
  }
  return values;
}

/**
 * A scalar option given more than once takes its last value, as in gunicorn's, uvicorn's and most
 * CLIs' parsers: an image's ENTRYPOINT can set a default that a pod's or compose file's args then
 * override. List options (--bind) keep every value. Both parsers (this one and yargs) use it.
 */
export function lastValue(d: OptionDef<unknown>, value: unknown): unknown {
  return Array.isArray(value) && d.cli !== 'array' ? value.at(-1) : value;
}

/** Every spelling the server command line accepts, without dashes: names, aliases, --no-BOOLEAN. */
const KNOWN_LONG = new Set<string>(['help', 'version']);
const KNOWN_SHORT = new Set<string>(['h']);
for (const key of optionKeys) {
  const d = OPTIONS[key] as OptionDef<unknown>;
  if (d.cli === 'positional' || d.cli === 'rest') continue;
  KNOWN_LONG.add(d.name);
  if (d.cli === 'boolean') KNOWN_LONG.add(`no-${d.name}`);
  if (d.alias !== undefined) KNOWN_SHORT.add(d.alias);
}

/**
 * Refuses an unknown option by the name the user typed, with the option they probably meant.
 * yargs would report `--no-such-flag` as "such-flag" (the negation of an option it never knew).
 */
export function checkOptionNames(
  argv: readonly string[],
  known: readonly string[] = [...KNOWN_LONG],
  short: ReadonlySet<string> = KNOWN_SHORT,
): void {
  const knownLong = new Set(known);
  for (const arg of argv) {
    if (arg === '--') return;
    // A lone "-" and negative numbers (-w -1) are values, not options.
    if (!isOption(arg)) continue;
    const long = arg.startsWith('--');
    const name = long ? arg.slice(2).split('=')[0]! : arg.slice(1, 2);
    if (long ? knownLong.has(name) : short.has(name)) continue;
    const typed = long ? `--${name}` : `-${name}`;
    const near = long ? closest(name, known) : null;
    const hint = near === null ? 'see prefork --help for the options' : `did you mean --${near}?`;
    throw usageError(`unknown option ${typed}: ${hint}`);
  }
}

const isOption = (arg: string): boolean => arg.startsWith('-') && arg !== '-' && !/^-\d/.test(arg);

/** `-w` at the end, or followed by another option: named as typed (yargs says "following: w"). */
export function checkOptionValues(argv: readonly string[]): void {
  for (const [i, arg] of argv.entries()) {
    if (arg === '--') return;
    if (!isOption(arg) || arg.includes('=')) continue;
    const name = arg.startsWith('--') ? arg.slice(2) : arg.length === 2 ? arg.slice(1) : null;
    const d = optionKeys.map((k) => OPTIONS[k] as OptionDef<unknown>).find((o) => o.name === name || o.alias === name);
    if (d === undefined || d.cli === 'boolean' || d.cli === 'positional' || d.cli === 'rest') continue;
    const next = argv[i + 1];
    if (next === undefined || isOption(next)) throw usageError(`${arg} needs a value: ${d.describe}`);
  }
}
