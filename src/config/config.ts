import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Bind, type BindSpec, addressKey, expandBind, formatBind } from './bind.js';
import { PreforkError, usageError } from '../shared/exit-codes.js';
import { HANDOVER_ENV } from '../upgrade/handover.js';
import { closest } from './suggest.js';
import { type Config, type OptionDef, type OptionKey, OPTIONS, envName, optionKeys } from './options.js';
import { fs } from '../shared/builtins.js';

const { readFileSync } = fs;

export interface ConfigSources {
  /** Values given on the command line, keyed by option; undefined = not given. */
  argv: Partial<Record<OptionKey, unknown>>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdoutIsTTY: boolean;
}

const keyByConfigName = new Map<string, OptionKey>(
  optionKeys.flatMap((key) => [[key, key] as const, [OPTIONS[key].name, key] as const]),
);

function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT' || e?.code === 'ERR_MODULE_NOT_FOUND') return 'file not found';
  if (e?.code === 'EACCES') return 'permission denied';
  return (e?.message ?? String(err)).split('\n')[0] ?? 'unknown error';
}

/** A config file's values by option, with each key as the file spells it (for messages). */
export interface ConfigFile {
  values: Partial<Record<OptionKey, unknown>>;
  names: Partial<Record<OptionKey, string>>;
}

/**
 * A JS config's import and default export, awaited; one that can never settle (nothing left for
 * the event loop to do) is refused instead of Node exiting 13 without a word.
 */
async function settle<T>(work: Promise<T>, file: string): Promise<T> {
  let onEmptyLoop: () => void = () => {};
  const never = new Promise<never>((_, reject) => {
    const why = 'its default export never settles (a promise nothing resolves)';
    onEmptyLoop = () => reject(usageError(`cannot load config file ${file}: ${why}`));
    process.once('beforeExit', onEmptyLoop);
  });
  try {
    return await Promise.race([work, never]);
  } finally {
    process.removeListener('beforeExit', onEmptyLoop);
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as { then?: unknown } | null)?.then === 'function';

/** Reads a .json, .js, .mjs or .cjs config file into option keys. Every failure is exit 2. */
export async function loadConfigFile(file: string, cwd: string): Promise<ConfigFile> {
  const path = resolve(cwd, file);
  const ext = extname(path);
  let data: unknown;
  if (ext === '.json') {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw usageError(`cannot read config file ${file}: ${describeError(err)}`);
    }
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw usageError(`config file ${file} is not valid JSON: ${describeError(err)}`);
    }
  } else if (ext === '.js' || ext === '.mjs' || ext === '.cjs') {
    try {
      data = await settle(
        (async () => {
          let value = ((await import(pathToFileURL(path).href)) as { default?: unknown }).default;
          if (typeof value === 'function') value = (value as () => unknown)();
          return isThenable(value) ? await value : value;
        })(),
        file,
      );
    } catch (err) {
      if (err instanceof PreforkError) throw err;
      throw usageError(`cannot load config file ${file}: ${describeError(err)}`);
    }
  } else {
    throw usageError(`invalid config file "${file}": expected a .json, .js, .mjs or .cjs file`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    const got = data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data;
    throw usageError(`config file ${file} must hold an object of options, got ${got}`);
  }
  const values: Partial<Record<OptionKey, unknown>> = {};
  const names: Partial<Record<OptionKey, string>> = {};
  for (const [name, value] of Object.entries(data)) {
    const key = keyByConfigName.get(name);
    if (key === undefined || OPTIONS[key].cliOnly) {
      const near = closest(
        name,
        optionKeys.filter((k) => !OPTIONS[k].cliOnly).flatMap((k) => [k, OPTIONS[k].name]),
      );
      const hint = near === null ? 'see prefork --help for the options' : `did you mean "${near}"?`;
      throw usageError(`unknown option "${name}" in config file ${file}: ${hint}`);
    }
    if (key in values) {
      throw usageError(`option "${name}" in config file ${file} is also given as "${names[key]}": give it once`);
    }
    values[key] = value;
    names[key] = name;
  }
  return { values, names };
}

/** Where each option's value came from, as messages name it: --workers, env PREFORK_WORKERS, "workers" in c.json. */
type Labels = Record<OptionKey, string>;

function valueFor(
  key: OptionKey,
  src: ConfigSources,
  file: ConfigFile,
  fileName: string | null,
  labels: Partial<Labels>,
): unknown {
  const d = OPTIONS[key] as OptionDef<unknown>;
  const cli = src.argv[key];
  const from = (label: string, raw: unknown, sep = ''): unknown => {
    labels[key] = `${label}${sep}`;
    return d.parse(raw, labels[key]);
  };
  if (cli !== undefined) return from(d.cli === 'positional' ? 'APP' : d.cli === 'rest' ? 'ARGS' : `--${d.name}`, cli);
  if (!d.cliOnly) {
    const env = src.env[envName(d)];
    if (env !== undefined && env !== '') return from(`env ${envName(d)}`, env);
    // The colon keeps the value apart from the file name: invalid "workers" in c.json: null.
    if (key in file.values) return from(`"${file.names[key] ?? d.name}" in ${fileName}`, file.values[key], ':');
  }
  labels[key] = `--${d.name}`;
  return d.default({ env: src.env, stdoutIsTTY: src.stdoutIsTTY });
}

/** PREFORK_* names prefork itself puts in the environment of its workers and new masters. */
const INTERNAL_ENV = new Set(['PREFORK_WORKER_ID', HANDOVER_ENV]);

/**
 * A PREFORK_* variable one typo away from an option's (PREFORK_WOKERS) would be ignored without
 * a word. Others may be the app's own: the namespace is not claimed, only near misses refused.
 */
function checkEnvNames(env: NodeJS.ProcessEnv): void {
  const known = optionKeys.filter((k) => !OPTIONS[k].cliOnly).map((k) => envName(OPTIONS[k] as OptionDef<unknown>));
  for (const name of Object.keys(env)) {
    if (!name.startsWith('PREFORK_') || INTERNAL_ENV.has(name) || known.includes(name)) continue;
    const near = closest(
      name.slice('PREFORK_'.length),
      known.map((k) => k.slice('PREFORK_'.length)),
    );
    if (near !== null) throw usageError(`unknown env ${name}: did you mean PREFORK_${near}?`);
  }
}

/** Merges defaults < config file < env < CLI, validates every value, and freezes the result. */
export async function resolveConfig(src: ConfigSources): Promise<Config> {
  checkEnvNames(src.env);
  const configOption = OPTIONS.config;
  const fileName = (src.argv.config ?? (src.env[envName(configOption)] || undefined)) as string | undefined;
  const path = fileName === undefined ? null : (configOption.parse(fileName, '--config') ?? '');
  const file = path === null ? { values: {}, names: {} } : await loadConfigFile(path, src.cwd);
  const resolved: Record<string, unknown> = {};
  const labels: Partial<Labels> = {};
  // Logs reach a TTY only when they go to stdout: with a log file the default format is json.
  const logsToTTY = src.stdoutIsTTY && valueFor('logFile', src, file, fileName ?? null, labels) === null;
  for (const key of optionKeys) {
    resolved[key] = valueFor(key, { ...src, stdoutIsTTY: logsToTTY }, file, fileName ?? null, labels);
  }
  mergeAliases(resolved, (key) => sourceRank(key, src, file), labels);
  const config = resolved as Config;
  if (config.app === null)
    throw usageError(
      'missing APP: expected path/to/module[:export], e.g. prefork server.js or prefork app.mjs:handler',
    );
  checkCombinations(config, labels as Labels, src.cwd);
  // The master and every worker open the log file themselves, each from its own cwd: resolve it once.
  const logFile = config.logFile === null ? null : resolve(src.cwd, config.logFile);
  return Object.freeze({ ...config, logFile, bind: Object.freeze([...config.bind]) });
}

/** Options with a second name (--admin-bind for --metrics-bind): [alias, target]. */
const ALIASES = optionKeys.flatMap((key) => {
  const target = (OPTIONS[key] as OptionDef<unknown>).aliasOf as OptionKey | undefined;
  return target === undefined ? [] : [[key, target] as const];
});

/** Where a value came from: 3 the command line, 2 env, 1 the config file, 0 the default. */
function sourceRank(key: OptionKey, src: ConfigSources, file: ConfigFile): number {
  const d = OPTIONS[key] as OptionDef<unknown>;
  if (src.argv[key] !== undefined) return 3;
  if (d.cliOnly) return 0;
  const env = src.env[envName(d)];
  return env !== undefined && env !== '' ? 2 : key in file.values ? 1 : 0;
}

/**
 * One value under both names: the one from the higher source (CLI > env > file) wins, as for
 * any option; both from the same source must agree, since neither can be said to come last.
 */
function mergeAliases(
  resolved: Record<string, unknown>,
  rank: (key: OptionKey) => number,
  labels: Partial<Labels>,
): void {
  for (const [alias, target] of ALIASES) {
    const [a, t] = [rank(alias), rank(target)];
    if (a !== 0 && a === t && JSON.stringify(resolved[alias]) !== JSON.stringify(resolved[target])) {
      const what = (key: OptionKey): string => `${labels[key]} ${formatValue(resolved[key])}`;
      throw usageError(`${what(alias)} and ${what(target)} name the same listener: give one of them`);
    }
    const [from, to] = a > t ? [alias, target] : [target, alias];
    resolved[to] = resolved[from];
    labels[to] = labels[from];
  }
}

const formatValue = (v: unknown): string =>
  v !== null && typeof v === 'object' && 'kind' in v ? formatBind(v as Bind) : String(v);

/** Options that are valid one by one but not together. */
function checkCombinations(config: Config, labels: Labels, cwd: string): void {
  const { certfile, keyfile, headersTimeout, requestTimeout } = config;
  if ((certfile === null) !== (keyfile === null)) {
    const [given, missing] =
      certfile !== null
        ? [`${labels.certfile} ${certfile}`, '--keyfile']
        : [`${labels.keyfile} ${keyfile}`, '--certfile'];
    throw usageError(`${given} is set but ${missing} is not: HTTPS needs both a certificate and its private key`);
  }
  // Node refuses this pair: the headers are part of the request, so they cannot be given longer.
  if (requestTimeout > 0 && headersTimeout > requestTimeout) {
    throw usageError(
      `invalid ${labels.headersTimeout} ${headersTimeout}: expected at most ${labels.requestTimeout} ${requestTimeout} ` +
        '(the headers are part of the request), or --request-timeout 0 (off)',
    );
  }
  checkDuplicateBinds(config, labels, cwd);
}

/**
 * One address, one socket: a second bind of the same address would replace the first's socket
 * file, or bind the same port twice and fail later in a worker. Overlaps only the resolver or a
 * wildcard reveals (localhost:P with 127.0.0.1:P) are caught when the master binds.
 */
function checkDuplicateBinds(config: Config, labels: Labels, cwd: string): void {
  const seen = new Map<string, string>();
  const claim = (bind: BindSpec, what: string): void => {
    const key = addressKey(bind, cwd);
    if (key === null) return;
    const first = seen.get(key);
    if (first !== undefined) {
      const again = first === what ? `${what} is given twice` : `${what} is the same address as ${first}`;
      throw usageError(`${again}: each address can be bound once`);
    }
    seen.set(key, what);
  };
  for (const bind of config.bind) {
    const what = `${labels.bind} ${formatBind(bind)}`;
    if (bind.kind !== 'per-worker') claim(bind, what);
    // Each slot of the starting pool; a slot added later (TTIN) is checked when it is bound.
    else
      for (let slot = 0; slot < config.workers; slot += 1) {
        const one = expandBind(bind, slot, labels.bind);
        claim(one, `${what} (worker ${slot}: ${formatBind(one)})`);
      }
  }
  if (config.control !== null) {
    const control: BindSpec = { kind: 'unix', path: config.control };
    claim(control, `${labels.control} ${formatBind(control)}`);
  }
  if (config.metricsBind !== null) claim(config.metricsBind, `${labels.metricsBind} ${formatBind(config.metricsBind)}`);
}

/** The config as --check-config prints it: JSON with binds in their canonical string form. */
export function configToJSON(config: Config, format: (b: Config['bind'][number]) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of optionKeys) {
    if (OPTIONS[key].cliOnly) continue;
    const value = config[key];
    out[key] =
      key === 'bind'
        ? config.bind.map(format)
        : key === 'metricsBind' || key === 'adminBind'
          ? config[key] === null
            ? null
            : format(config[key])
          : key === 'socketMode'
            ? `0${config.socketMode.toString(8)}`
            : value;
  }
  return out;
}

/** Options a reload cannot apply, as the option table marks them. */
const RESTART_ONLY: ReadonlyArray<keyof Config> = optionKeys.filter(
  (key) => OPTIONS[key].onReload === 'restart' && (OPTIONS[key] as OptionDef<unknown>).aliasOf === undefined,
);

/** The config a reload puts in force: `next` with the restart-only options kept; `ignored` lists those that changed. */
export function reloadedConfig(current: Config, next: Config): { config: Config; ignored: Array<keyof Config> } {
  const ignored = RESTART_ONLY.filter((key) => JSON.stringify(next[key]) !== JSON.stringify(current[key]));
  const kept: Record<string, unknown> = Object.fromEntries(RESTART_ONLY.map((key) => [key, current[key]]));
  for (const [alias, target] of ALIASES) kept[alias] = target in kept ? kept[target] : next[target];
  return { config: Object.freeze({ ...next, ...kept }) as Config, ignored };
}
