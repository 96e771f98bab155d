import { formatBind } from '../config/bind.js';
import { checkOptionNames, checkOptionValues } from './argv.js';
import { parseServerArgv, splitAppArgs } from './server-argv.js';
import { configToJSON, resolveConfig } from '../config/config.js';
import { ExitCode, PreforkError } from '../shared/exit-codes.js';
import { createLogger } from '../shared/log.js';
import { preflight } from '../config/preflight.js';
import { CONTROL_COMMANDS } from '../shared/control-commands.js';
import { operatorCwd, runMaster } from '../launch/launcher.js';
import { leanMaster } from './lean-master.js';

function exitWith(code: number, message?: string): never {
  if (message !== undefined) process.stderr.write(`prefork: ${message}\n`);
  process.exit(code);
}

export async function main(argv: readonly string[]): Promise<never> {
  try {
    if (CONTROL_COMMANDS.includes(argv[0] ?? '')) {
      // yargs and the client load only for these commands: they cost the master 14 MB and 70 ms.
      const { parseClientArgv, runClient } = await import('./control-client.js');
      const args = await parseClientArgv(argv, process.env);
      exitWith(await runClient(args));
    }
    const { own } = splitAppArgs(argv);
    if (!own.includes('--help') && !own.includes('-h')) {
      // Values first: in `--name -svc` the trouble is the missing value, not an option -s.
      checkOptionValues(argv);
      checkOptionNames(argv);
    }
    const cliValues = await parseServerArgv(argv);
    const sources = {
      argv: cliValues,
      env: process.env,
      cwd: operatorCwd(),
      // Not process.stdout.isTTY: making that stream costs start-up ~0.7 ms, and the master never uses it.
      stdoutIsTTY: process.getBuiltinModule('node:tty').isatty(1),
    };
    const config = await resolveConfig(sources);
    if (cliValues.checkConfig === true) {
      preflight(config, sources.cwd);
      process.stdout.write(`${JSON.stringify(configToJSON(config, formatBind), null, 2)}\n`);
      exitWith(ExitCode.ok);
    }
    const log = createLogger(config, { role: 'master' });
    process.title = `prefork master${config.name ? ` [${config.name}]` : ''}`;
    // Once the first workers are forked: off the way to the first request (loading node:v8 takes ~2 ms).
    exitWith(await runMaster(config, log, () => resolveConfig(sources), { started: leanMaster }));
  } catch (err) {
    if (err instanceof PreforkError) exitWith(err.exitCode, err.message);
    exitWith(ExitCode.unexpected, `unexpected error: ${(err as Error)?.stack ?? String(err)}`);
  }
}
