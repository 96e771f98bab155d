import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { usageError } from './exit-codes.js';
import { type Config, type OptionDef, type OptionKey, OPTIONS, envName, optionKeys } from './options.js';

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

/** Reads a .json, .js, .mjs or .cjs config file into option keys. Every failure is exit 2. */
export async function loadConfigFile(file: string, cwd: string): Promise<Partial<Record<OptionKey, unknown>>> {
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
      const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
      data = mod.default;
      if (typeof data === 'function') data = await (data as () => unknown)();
    } catch (err) {
      throw usageError(`cannot load config file ${file}: ${describeError(err)}`);
    }
  } else {
    throw usageError(`invalid config file "${file}": expected a .json, .js, .mjs or .cjs file`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw usageError(`config file ${file} must hold an object of options, got ${Array.isArray(data) ? 'an array' : typeof data}`);
  }
  const values: Partial<Record<OptionKey, unknown>> = {};
  for (const [name, value] of Object.entries(data)) {
    const key = keyByConfigName.get(name);
    if (key === undefined || OPTIONS[key].cliOnly) {
      throw usageError(`unknown option "${name}" in config file ${file}: see prefork --help for the options`);
    }
    values[key] = value;
  }
  return values;
}

function valueFor(key: OptionKey, src: ConfigSources, file: Partial<Record<OptionKey, unknown>>, fileName: string | null): unknown {
  const d = OPTIONS[key] as OptionDef<unknown>;
  const cli = src.argv[key];
  if (cli !== undefined) return d.parse(cli, d.cli === 'positional' ? 'APP' : `--${d.name}`);
  if (!d.cliOnly) {
    const env = src.env[envName(d)];
    if (env !== undefined && env !== '') return d.parse(env, `env ${envName(d)}`);
    if (key in file) return d.parse(file[key], `"${d.name}" in ${fileName}`);
  }
  return d.default({ env: src.env, stdoutIsTTY: src.stdoutIsTTY });
}

/** Merges defaults < config file < env < CLI, validates every value, and freezes the result. */
export async function resolveConfig(src: ConfigSources): Promise<Config> {
  const configOption = OPTIONS.config;
  const fileName = (src.argv.config ?? (src.env[envName(configOption)] || undefined)) as string | undefined;
  const file = fileName === undefined ? {} : await loadConfigFile(configOption.parse(fileName, '--config') ?? '', src.cwd);
  const resolved: Record<string, unknown> = {};
  // Logs reach a TTY only when they go to stdout: with a log file the default format is json.
  const logsToTTY = src.stdoutIsTTY && valueFor('logFile', src, file, fileName ?? null) === null;
  for (const key of optionKeys) resolved[key] = valueFor(key, { ...src, stdoutIsTTY: logsToTTY }, file, fileName ?? null);
  const config = resolved as Config;
  if (config.app === null) throw usageError('missing APP: expected path/to/module[:export], e.g. prefork server.js or prefork app.mjs:handler');
  checkCombinations(config);
  // The master and every worker open the log file themselves, each from its own cwd: resolve it once.
  const logFile = config.logFile === null ? null : resolve(src.cwd, config.logFile);
  return Object.freeze({ ...config, logFile, bind: Object.freeze([...config.bind]) });
}

/** Options that are valid one by one but not together. */
function checkCombinations(config: Config): void {
  const { certfile, keyfile, headersTimeout, requestTimeout } = config;
  if ((certfile === null) !== (keyfile === null)) {
    const [given, missing] = certfile !== null ? [`--certfile ${certfile}`, '--keyfile'] : [`--keyfile ${keyfile}`, '--certfile'];
    throw usageError(`${given} is set but ${missing} is not: HTTPS needs both a certificate and its private key`);
  }
  // Node refuses this pair: the headers are part of the request, so they cannot be given longer.
  if (requestTimeout > 0 && headersTimeout > requestTimeout) {
    throw usageError(
      `invalid --headers-timeout ${headersTimeout}: expected at most --request-timeout ${requestTimeout} (the headers are part of the request), or --request-timeout 0 (off)`,
    );
  }
}

/** The config as --check-config prints it: JSON with binds in their canonical string form. */
export function configToJSON(config: Config, format: (b: Config['bind'][number]) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of optionKeys) {
    if (OPTIONS[key].cliOnly) continue;
    const value = config[key];
    out[key] =
      key === 'bind' ? config.bind.map(format)
      : key === 'metricsBind' ? (config.metricsBind === null ? null : format(config.metricsBind))
      : key === 'socketMode' ? `0${config.socketMode.toString(8)}`
      : value;
  }
  return out;
}

/** Options a reload cannot apply (new sockets, privileges, the one log file every process shares). */
const RESTART_ONLY: ReadonlyArray<keyof Config> = [
  'bind', 'socketMode', 'backlog', 'name', 'config', 'certfile', 'keyfile', 'logFile', 'pidfile',
  'user', 'group', 'socketOwner', 'control', 'metricsBind', 'reload',
];

/** The config a reload puts in force: `next` with the restart-only options kept; `ignored` lists those that changed. */
export function reloadedConfig(current: Config, next: Config): { config: Config; ignored: Array<keyof Config> } {
  const ignored = RESTART_ONLY.filter((key) => JSON.stringify(next[key]) !== JSON.stringify(current[key]));
  const kept = Object.fromEntries(RESTART_ONLY.map((key) => [key, current[key]]));
  return { config: Object.freeze({ ...next, ...kept }) as Config, ignored };
}
