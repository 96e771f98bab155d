import { resolveConfig } from './config/config.js';
import { type ExitCodeValue } from './shared/exit-codes.js';
import { createLogger } from './shared/log.js';
import type { Master } from './master/master.js';
import { type ConfigInput, type OptionKey, OPTIONS, optionKeys } from './config/options.js';
import { operatorCwd, runMaster } from './launch/launcher.js';

/**
 * The programmatic API: the same master the CLI runs, in this process, with the CLI's options by
 * their camelCase names. As with the CLI, env PREFORK_* and a `config` file fill in what is not
 * given, and this process's TERM/INT/HUP/... act on the master while it runs.
 */

/** `serve()` takes what a config file holds, `app` included. */
export type ServeOptions = ConfigInput;

/** A config file's default export: the options, or a function (sync or async) returning them. */
export type ConfigExport = ConfigInput | (() => ConfigInput | Promise<ConfigInput>);

/** Keys of T that are not options: each must be `never`, so a misspelt key is a type error. */
type OnlyOptions<T> = T & Record<Exclude<keyof T, keyof ConfigInput>, never>;

/** defineConfig's type, shared with the CommonJS entry (index.cts). */
export type DefineConfig = {
  <T extends ConfigInput>(config: OnlyOptions<T>): T;
  <T extends () => ConfigInput | Promise<ConfigInput>>(config: T): T;
};

/** Gives a config file (`prefork.config.mjs`: `export default defineConfig({...})`) its types. */
export const defineConfig: DefineConfig = <T>(config: T): T => config;

export interface Served extends PromiseLike<ExitCodeValue> {
  /** Resolves with the addresses once every worker serves; rejects if the master stops first. */
  readonly ready: Promise<string[]>;
  /** Resolves with the exit code once the master has stopped (0: a clean stop, 4: the app cannot load). */
  readonly stopped: Promise<ExitCodeValue>;
  /** Graceful (as TERM: drain, up to --graceful-timeout) or immediate (as QUIT); resolves like `stopped`. */
  stop(mode?: 'graceful' | 'immediate'): Promise<ExitCodeValue>;
  /** A rolling restart, as SIGHUP: workers load the app again. */
  reload(): Promise<void>;
}

const keyByName = new Map<string, OptionKey>(
  optionKeys.flatMap((key) => [[key, key] as const, [OPTIONS[key].name, key] as const]),
);

/**
 * Starts a master and its workers. Bad options, a bind that fails or an app file that is missing
 * reject `stopped` (and `ready`) with a PreforkError whose exitCode is the CLI's.
 */
export function serve(options: ServeOptions): Served {
  const argv: Partial<Record<OptionKey, unknown>> = {};
  for (const [name, value] of Object.entries(options)) {
    const key = keyByName.get(name);
    // An unknown name is a typo the types would have caught: say so, as the CLI does.
    if (key === undefined || OPTIONS[key].cliOnly) throw new TypeError(`prefork serve(): unknown option "${name}"`);
    if (value !== undefined) argv[key] = value;
  }
  const sources = { argv, env: process.env, cwd: operatorCwd(), stdoutIsTTY: process.stdout.isTTY === true };
  let master: Master | null = null;
  let pendingStop: 'graceful' | 'immediate' | null = null;
  let onReady: (addresses: string[]) => void = () => {};
  let notReady: (err: unknown) => void = () => {};
  const ready = new Promise<string[]>((resolve, reject) => ([onReady, notReady] = [resolve, reject]));
  ready.catch(() => {});
  const stopped = (async (): Promise<ExitCodeValue> => {
    const config = await resolveConfig(sources);
    const log = createLogger(config, { role: 'master' });
    return runMaster(config, log, () => resolveConfig(sources), {
      started: (m) => {
        master = m;
        if (pendingStop !== null) m.stop(pendingStop, 'stop() called');
      },
      ready: (addresses) => onReady(addresses),
      embedded: true,
    });
  })();
  void stopped.then(
    (code) => notReady(new Error(`prefork stopped (exit ${code}) before every worker was ready`)),
    (err: unknown) => notReady(err),
  );
  return {
    ready,
    stopped,
    stop(mode = 'graceful') {
      if (master === null) pendingStop = mode;
      else master.stop(mode, 'stop() called');
      return stopped;
    },
    async reload() {
      await master?.reload();
    },
    then: (onFulfilled, onRejected) => stopped.then(onFulfilled, onRejected),
  };
}
