import { resolve } from 'node:path';
import { Inheritance } from '../upgrade/handover.js';
import { type Logger, giveLogFileTo } from '../shared/log.js';
import type { Config } from '../config/options.js';
import { type Pidfile, lockPidfile } from '../master/pidfile.js';
import { resolveApp } from '../config/preflight.js';
import { type Privileges, resolvePrivileges } from '../master/privileges.js';
import { type TlsMaterial, loadTls } from '../config/tls.js';
import { Successor } from '../upgrade/upgrade.js';
import type { Cleanup } from './cleanup.js';
import { fs } from '../shared/builtins.js';

const { realpathSync } = fs;

/** What the checks before the first bind found: nothing in here is a file or a socket. */
export interface Start {
  /** The directory the operator started us in, by their name for it (operatorCwd). */
  cwd: string;
  /** A hot upgrade's new master: our side of the hand-over, with the old master's sockets; else null. */
  successor: Successor | null;
  /** Read again by a reload (a renewed certificate goes live with a SIGHUP). */
  tls: TlsMaterial | null;
  privileges: Privileges;
}

/**
 * The directory the operator started us in, by the name they used: with `current -> releases/42`
 * $PWD says .../current while process.cwd() says .../releases/42, and a reload must follow the
 * symlink to the new release.
 */
export function operatorCwd(env: NodeJS.ProcessEnv = process.env): string {
  const physical = process.cwd();
  const logical = env.PWD;
  if (logical === undefined) return physical;
  try {
    return realpathSync(logical) === physical ? logical : physical;
  } catch {
    return physical;
  }
}

/** Step 1: everything that can be checked before anything is created: bad input creates nothing. */
export function checkStart(config: Config, log: Logger): Start {
  const cwd = operatorCwd();
  // Started by a hot upgrade: the old master's sockets, as inherited descriptors (else null).
  const inheritance = Inheritance.fromEnv(process.env);
  const successor = inheritance === null ? null : new Successor(inheritance, log);
  resolveApp(config.app ?? '', cwd);
  // Read while we still can (key files are often root-only) and before anything is bound.
  const tls = loadTls(config, cwd);
  const privileges = resolvePrivileges(config);
  if (privileges.worker !== null) giveLogFileTo(log, privileges.worker);
  if (process.pid === 1) warnAboutPid1(log);
  return { cwd, successor, tls, privileges };
}

/**
 * Step 2: the pidfile's lock, taken before binding so that a second master refuses before it
 * creates anything. A new master takes the lock over from its parent only when that one hands over.
 */
export async function lockPidfileFor(
  config: Config,
  log: Logger,
  start: Start,
  cleanup: Cleanup,
): Promise<Pidfile | null> {
  if (config.pidfile === null) return null;
  const { successor } = start;
  const parent = successor !== null && process.ppid === successor.parent ? successor.parent : null;
  const pidfile = await lockPidfile(resolve(start.cwd, config.pidfile), config.pidfile, log, process.pid, { parent });
  cleanup.add(() => pidfile.release());
  return pidfile;
}

/**
 * As a container's entrypoint prefork is PID 1. Its signal handlers make TERM and INT work there
 * (the kernel drops signals PID 1 has no handler for), but Node cannot reap processes it did not
 * start: an orphan reparented to PID 1 stays a zombie. `docker run --init` or tini fixes that.
 */
function warnAboutPid1(log: Logger): void {
  log.warn(
    { event: 'pid1' },
    "running as PID 1: orphaned processes (an app's detached children) will not be reaped; " +
      'run under an init such as `docker run --init` or tini',
  );
}
