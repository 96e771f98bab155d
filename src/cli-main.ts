import { readFileSync } from 'node:fs';
import { formatBind } from './bind.js';
import { fastParse } from './argv.js';
import { configToJSON, resolveConfig } from './config.js';
import { ExitCode, PreforkError, usageError } from './exit-codes.js';
import { checkLogFile, createLogger } from './log.js';
import { type OptionDef, type OptionKey, OPTIONS, envName, optionKeys } from './options.js';
import { operatorCwd, runMaster } from './prefork.js';
import { MASTER_SIGNALS } from './signals.js';
import { loadTls } from './tls.js';

function exitWith(code: number, message?: string): never {
  if (message !== undefined) process.stderr.write(`prefork: ${message}\n`);
  process.exit(code);
}

const CONTROL_COMMANDS: readonly string[] = ['status', 'reload', 'scale', 'stop'];

export async function main(argv: readonly string[]): Promise<never> {
  try {
    if (CONTROL_COMMANDS.includes(argv[0] ?? '')) {
      // yargs and the client load only for these commands: they cost the master 14 MB and 70 ms.
      const { parseClientArgv, runClient } = await import('./control-client.js');
      exitWith(await runClient(parseClientArgv(argv, process.env)));
    }
    const cliValues = fastParse(argv) ?? (await import('./cli-yargs.js')).parseArgv(argv);
    const sources = { argv: cliValues, env: process.env, cwd: operatorCwd(), stdoutIsTTY: process.stdout.isTTY === true };
    const config = await resolveConfig(sources);
    if (cliValues.checkConfig === true) {
      loadTls(config, sources.cwd);
      if (config.logFile !== null) checkLogFile(config.logFile);
      process.stdout.write(`${JSON.stringify(configToJSON(config, formatBind), null, 2)}\n`);
      exitWith(ExitCode.ok);
    }
    const log = createLogger(config, { role: 'master' });
    process.title = `prefork master${config.name ? ` [${config.name}]` : ''}`;
    exitWith(await runMaster(config, log, () => resolveConfig(sources)));
  } catch (err) {
    if (err instanceof PreforkError) exitWith(err.exitCode, err.message);
    exitWith(ExitCode.unexpected, `unexpected error: ${(err as Error)?.stack ?? String(err)}`);
  }
}
