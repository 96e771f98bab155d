import { usageError } from '../shared/exit-codes.js';
import { lastValue } from './argv.js';
import { type OptionDef, type OptionKey, OPTIONS, envName, optionKeys } from '../config/options.js';
import { MASTER_SIGNALS } from '../master/signals.js';
import { fs } from '../shared/builtins.js';
import { PACKAGE_ROOT } from '../shared/package-paths.js';

const { readFileSync } = fs;

/**
 * The full yargs parser: --help, --version, and every command line the fast path (argv.ts)
 * hands over, so that errors read the same whatever path found them.
 */
const pkg = JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version: string };

const EPILOG = [
  'Signals (to the master):',
  ...MASTER_SIGNALS.map((s) => `  ${s.signal.padEnd(8)} ${s.doc}`),
  '',
  'Exit codes: 0 clean stop, 1 unexpected failure, 2 bad usage or config, 3 cannot bind, 4 the app cannot load.',
  'Every option can also be set as env PREFORK_<NAME> or in --config; precedence CLI > env > config file > defaults.',
  'An option given twice keeps its last value (--bind adds each one).',
].join('\n');

/**
 * yargs wiring only: every flag comes from the option table; values stay raw for validation.
 * yargs is imported here, not at the top: the bundled CLI would otherwise load it at every start.
 */
export async function parseArgv(argv: readonly string[]): Promise<Partial<Record<OptionKey, unknown>>> {
  const { default: yargs } = await import('yargs');
  const parser = yargs([...argv])
    .scriptName('prefork')
    .usage(
      'prefork [options] APP [-- ARGS...]\n\nServe APP (path/to/module[:export]) with a pool of pre-forked worker processes;\nthe app sees ARGS in its process.argv, as if `node APP ARGS` ran.\nprefork status|reload|scale N|stop --control PATH talks to a running master (see prefork status --help).',
    )
    .parserConfiguration({ 'camel-case-expansion': false, 'boolean-negation': true, 'duplicate-arguments-array': true })
    .strict()
    .version(pkg.version)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .epilog(EPILOG)
    .fail((message: string | null, err: Error | undefined) => {
      throw usageError((message ?? err?.message ?? 'invalid usage').split('\n')[0] ?? 'invalid usage');
    })
    .command('$0 [app]', false, (y) => y.positional('app', { type: 'string', describe: OPTIONS.app.describe }));
  for (const key of optionKeys) {
    const d = OPTIONS[key] as OptionDef<unknown>;
    if (d.cli === 'positional' || d.cli === 'rest') continue;
    parser.option(d.name, {
      alias: d.alias,
      // Repeated flags collect into an array ('duplicate-arguments-array', then lastValue keeps
      // the last of a scalar's); `array: true` would swallow the APP positional after `-b ADDR`.
      type: d.cli === 'boolean' ? 'boolean' : 'string',
      requiresArg: d.cli !== 'boolean',
      group: `${d.group}:`,
      describe: `${d.describe} (default: ${d.defaultDoc})${d.cliOnly ? '' : ` [env ${envName(d)}]`}`,
    });
  }
  const parsed = parser.parseSync() as Record<string, unknown>;
  const values: Partial<Record<OptionKey, unknown>> = {};
  for (const key of optionKeys) {
    const value = parsed[OPTIONS[key].name];
    if (value !== undefined) values[key] = lastValue(OPTIONS[key] as OptionDef<unknown>, value);
  }
  return values;
}
