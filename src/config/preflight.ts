import { expandBind } from './bind.js';
import { CONTROL_COMMANDS } from '../shared/control-commands.js';
import { resolve } from 'node:path';
import { resolveAppPath } from '../shared/app-path.js';
import { PreforkError, usageError } from '../shared/exit-codes.js';
import { checkInheritedFd, checkUnixPath } from '../master/listeners.js';
import { checkLogFile } from '../shared/log.js';
import type { Config } from './options.js';
import { checkPidfilePath } from '../master/pidfile.js';
import { resolvePrivileges } from '../master/privileges.js';
import { closest } from './suggest.js';
import { loadTls } from './tls.js';

/** `prefork COMMAND --control PATH`: the words the CLI reads as a command rather than an APP. */

/**
 * The app file, resolved as a worker will. An APP that is no file but looks like a command
 * (`prefork statu --control x`, or `status` after options) is a usage error, not an app error.
 */
export function resolveApp(spec: string, cwd: string): string {
  try {
    return resolveAppPath(spec, cwd);
  } catch (err) {
    const near = /^[a-z]+$/.test(spec) && err instanceof PreforkError ? closest(spec, CONTROL_COMMANDS) : null;
    if (near === null) throw err;
    if (near === spec) {
      throw usageError(`"${spec}" is a command, not an app file: it goes first, as in prefork ${spec} --control PATH`);
    }
    throw usageError(
      `unknown command "${spec}" (and no app file ${spec}): did you mean prefork ${near} --control PATH?`,
    );
  }
}

/**
 * Everything a start checks before it creates anything, without binding or forking: what
 * --check-config runs, so that a config it passes does not fail at start with the same line.
 */
export function preflight(config: Config, cwd: string): void {
  // In the order a start meets them: the log file opens first, then runMaster's checks.
  if (config.logFile !== null) checkLogFile(config.logFile);
  resolveApp(config.app ?? '', cwd);
  loadTls(config, cwd);
  resolvePrivileges(config);
  if (config.pidfile !== null) checkPidfilePath(resolve(cwd, config.pidfile), config.pidfile);
  const starting = config.bind.flatMap((b) =>
    b.kind === 'per-worker' ? Array.from({ length: config.workers }, (_, slot) => expandBind(b, slot)) : [b],
  );
  for (const bind of [...starting, ...(config.metricsBind === null ? [] : [config.metricsBind])]) {
    if (bind.kind === 'unix') checkUnixPath(resolve(cwd, bind.path));
    if (bind.kind === 'fd') checkInheritedFd(bind.fd);
  }
  if (config.control !== null) checkUnixPath(resolve(cwd, config.control));
}
