import { type OptionKey } from '../config/options.js';
import { fastParse } from './argv.js';

/**
 * The server command line as prefork reads it: everything after the first `--` is the app's own
 * argv (`prefork next -- start -p 3000`), never prefork's options, whatever it looks like.
 */
export function splitAppArgs(argv: readonly string[]): { own: string[]; appArgs: string[] | undefined } {
  const end = argv.indexOf('--');
  return end === -1
    ? { own: [...argv], appArgs: undefined }
    : { own: argv.slice(0, end), appArgs: argv.slice(end + 1) };
}

/** Both parsers behind one call: the fast path, else yargs (loaded only then). */
export async function parseServerArgv(argv: readonly string[]): Promise<Partial<Record<OptionKey, unknown>>> {
  const { own, appArgs } = splitAppArgs(argv);
  const values = fastParse(own) ?? (await (await import('./help.js')).parseArgv(own));
  return appArgs === undefined ? values : { ...values, args: appArgs };
}
