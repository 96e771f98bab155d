import type { Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { bindError, usageError } from '../shared/exit-codes.js';
import type { Logger } from '../shared/log.js';
import { fs } from '../shared/builtins.js';

/**
 * --pidfile: the master's pid, published once the sockets are bound, guarded by a
 * proper-lockfile lock (the directory PATH.lock) taken before binding, so a second master with
 * the same pidfile refuses before it creates anything.
 *
 * Staleness is decided here, from the pid, at once: proper-lockfile's own test (the lock
 * directory's mtime, refreshed every few seconds) needs seconds to call a SIGKILLed master's lock
 * stale, and a restart loop cannot wait. The lock directory records its holder's pid in a file
 * inside it, written in the same step that creates the directory (through proper-lockfile's `fs`
 * option), so the holder is known even while it is still binding, before the pidfile exists.
 *
 * Errors: a bad path (missing directory, a directory, a symlink, a file that holds no pid) is
 * exit 2; a pidfile held by a running prefork master is exit 3, like an address in use.
 */

export interface Pidfile {
  /** Absolute path of the pidfile. */
  readonly path: string;
  /** Writes "PID\n" atomically: a temp file in the same directory, then rename. */
  publish(): void;
  /** Removes the pidfile if it still holds our pid, then the lock. Never throws. */
  release(): Promise<void>;
  /**
   * Hot upgrade, old master: stop keeping the lock fresh without removing it, and leave pidfile
   * and lock alone from now on: the new master takes both over.
   */
  handOver(): Promise<void>;
  /**
   * Hot upgrade, new master, once the old one handed over (or is gone): write our pid (rename)
   * and take the lock over from the old master. Logs, never throws: we serve either way.
   */
  takeOver(): Promise<void>;
}

/** Hot upgrade: our parent, the old master, may hold the pidfile; it is not a rival. */
export interface LockOptions {
  parent?: number | null;
}

/** The holder's pid, inside the lock directory. */
const OWNER = 'pid';
/** proper-lockfile's minimum; it only judges lock directories that name no holder. */
const STALE_MS = 2000;
/** How long to wait for a lock that names no holder before giving up (past STALE_MS). */
const GIVE_UP_MS = STALE_MS + 1500;

export type HolderState = { state: 'running' } | { state: 'stale'; why: string };

/**
 * Our master's process title (cli-main.ts): `prefork master` or `prefork master [NAME]`. Node
 * writes the title over the original argv, so a short command line (`node cli.js app.js`) cuts
 * it: `prefork ma` is still a master (a worker is `prefork worker N`).
 */
export const isMasterTitle = (title: string): boolean =>
  /^prefork master( |$)/.test(title) || (title.length >= 'prefork m'.length && 'prefork master'.startsWith(title));

/**
 * Is `pid` a live prefork master other than us? A pid that is gone, a zombie, our own pid (a
 * restarted container's master is pid 1 again) or a process that is not a prefork master (the
 * pid was reused) is stale. /proc/PID/cmdline carries the title we set.
 */
export function holderState(pid: number, self: number = process.pid): HolderState {
  if (pid === self) return { state: 'stale', why: 'is this process (a restarted container?)' };
  let cmdline: string;
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return { state: 'stale', why: 'is not running' };
    // Hidden from us (hidepid): it runs; assume it may be a master rather than take its lock.
    return { state: 'running' };
  }
  const title = cmdline.split('\0')[0] ?? '';
  if (title === '') return { state: 'stale', why: 'is not running (a zombie)' };
  if (!isMasterTitle(title)) return { state: 'stale', why: `is not a prefork master (it is "${title.slice(0, 60)}")` };
  return { state: 'running' };
}

/** A pid file's contents: "123\n" -> 123; empty -> null; anything else -> 'not-a-pid'. */
export function parsePid(text: string): number | null | 'not-a-pid' {
  if (text.trim() === '') return null;
  return /^\d+\n?$/.test(text) && Number(text) > 0 ? Number(text) : 'not-a-pid';
}

function readPid(file: string): number | null | 'not-a-pid' {
  try {
    return parsePid(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return fs.lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSymbolicLink()) return 'a symlink';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Everything that can be wrong with the path itself, checked before anything is created. */
function checkPath(abs: string, given: string, lockDir: string): void {
  const bad = (why: string): never => {
    throw usageError(`invalid --pidfile "${given}": ${why}`);
  };
  const dir = dirname(abs);
  try {
    if (!fs.statSync(dir).isDirectory()) bad(`${dir} is not a directory`);
    const stats = lstatOrNull(abs);
    if (stats !== null && !stats.isFile()) bad(`the path is ${kindOf(stats)}; expected a file path`);
    // Root writes this file: never replace one that is not a pidfile (--pidfile /etc/passwd).
    if (stats !== null && readPid(abs) === 'not-a-pid')
      bad('the file exists and does not hold a pid; refusing to replace it');
    const lockStats = lstatOrNull(lockDir);
    if (lockStats !== null && !lockStats.isDirectory())
      bad(`its lock ${lockDir} exists and is ${kindOf(lockStats)}, not a lock directory`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    bad(
      code === 'ENOENT' || code === 'ENOTDIR'
        ? `directory ${dir} does not exist`
        : code === 'EACCES'
          ? 'permission denied'
          : code,
    );
  }
}

/**
 * proper-lockfile's fs, with the holder's pid written into the lock directory as it is made.
 * `handedOver`: proper-lockfile has no way to stop refreshing a lock but removing it (and removes
 * it at exit too); after a hot upgrade's hand-over removing is a no-op: the lock is the new
 * master's to take.
 */
function lockFs(pid: number, state: { handedOver: boolean }): Record<string, unknown> {
  return {
    ...fs,
    mkdir(dir: string, done: (err: Error | null) => void): void {
      fs.mkdir(dir, (err) => {
        if (err) return done(err);
        try {
          fs.writeFileSync(join(dir, OWNER), `${pid}\n`, { flag: 'wx', mode: 0o644 });
        } catch (writeErr) {
          fs.rmSync(dir, { recursive: true, force: true });
          return done(writeErr as Error);
        }
        done(null);
      });
    },
    rmdir(dir: string, done: (err: Error | null) => void): void {
      if (state.handedOver) return done(null);
      fs.unlink(join(dir, OWNER), () => fs.rmdir(dir, done));
    },
    rmdirSync(dir: string): void {
      if (state.handedOver) return;
      fs.rmSync(join(dir, OWNER), { force: true });
      fs.rmdirSync(dir);
    },
  };
}

/** Removes a lock whose holder we judged dead, unless someone took it over meanwhile. */
function removeStaleLock(lockDir: string, holder: number): void {
  if (readPid(join(lockDir, OWNER)) !== holder) return;
  fs.rmSync(join(lockDir, OWNER), { force: true });
  try {
    fs.rmdirSync(lockDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw usageError(
      `cannot take over the stale lock ${lockDir}: ${code === 'ENOTEMPTY' ? 'it holds files that are not ours' : code}`,
    );
  }
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** proper-lockfile's options: our own fs (the lock names its holder) and no throw on compromise. */
function lockOptions(lockDir: string, pid: number, state: { handedOver: boolean }, log: Logger) {
  return {
    realpath: false,
    stale: STALE_MS,
    retries: 0,
    fs: lockFs(pid, state),
    onCompromised: (err: Error) => {
      // proper-lockfile's default throws from a timer, which would take the master down.
      log.error(
        { event: 'pidfile-lock-compromised', path: lockDir, err: err.message },
        `the pidfile lock ${lockDir} was removed or taken by another process (${err.message}); serving on, but another master could now start`,
      );
    },
  };
}

/** A holder that runs refuses us (exit 3); a dead one is logged once and taken over. */
function refuseOrTakeOver(
  holder: ReturnType<typeof readPid>,
  at: { abs: string; given: string; pid: number; log: Logger; reported: Set<number> },
): void {
  if (typeof holder !== 'number') return;
  const verdict = holderState(holder, at.pid);
  if (verdict.state === 'running') throw bindError(`pidfile ${at.given} is held by running prefork master ${holder}`);
  if (at.reported.has(holder)) return;
  at.reported.add(holder);
  at.log.warn(
    { event: 'stale-pidfile', path: at.abs, holderPid: holder, reason: verdict.why },
    `pidfile ${at.abs}: pid ${holder} ${verdict.why}; taking it over`,
  );
}

/**
 * Takes the pidfile's lock (before binding). Throws exit 3 if a running prefork master holds
 * it, exit 2 for a bad path; takes over, and logs, a lock or pidfile left by a dead master.
 */
// Long because the look-then-lock retry loop, hot-upgrade branch included, reads best whole.
export async function lockPidfile(
  path: string,
  given: string,
  log: Logger,
  pid: number = process.pid,
  { parent = null }: LockOptions = {},
): Promise<Pidfile> {
  const abs = resolve(path);
  const lockDir = `${abs}.lock`;
  checkPath(abs, given, lockDir);
  // Loaded only when asked for: proper-lockfile installs signal-exit's handlers as it loads.
  const { default: lockfile } = await import('proper-lockfile');
  const state = { handedOver: false };
  const options = lockOptions(lockDir, pid, state, log);
  const handle = (unlock: (() => Promise<void>) | null, from: number | null): Pidfile =>
    pidfileHandle({
      abs,
      given,
      pid,
      log,
      state,
      lock: () => lockfile.lock(abs, options),
      unlock,
      lockDir,
      parent: from,
    });
  const deadline = Date.now() + GIVE_UP_MS;
  const reported = new Set<number>();
  for (;;) {
    const lockHolder = fs.existsSync(lockDir) ? readPid(join(lockDir, OWNER)) : null;
    const fileHolder = readPid(abs);
    // Hot upgrade: the old master holds the pidfile until it hands over (see takeOver()).
    if (parent !== null && (lockHolder === parent || fileHolder === parent)) {
      const other = [lockHolder, fileHolder].find(
        (h) => typeof h === 'number' && h !== parent && holderState(h, pid).state === 'running',
      );
      if (typeof other === 'number') throw bindError(`pidfile ${given} is held by running prefork master ${other}`);
      log.info(
        { event: 'pidfile-pending', path: abs, parent },
        `pidfile ${abs} is the old master's (pid ${parent}) until it hands over`,
      );
      return handle(null, parent);
    }
    for (const holder of [lockHolder, fileHolder]) refuseOrTakeOver(holder, { abs, given, pid, log, reported });
    // A lock naming a dead holder goes now; one naming nobody is left to proper-lockfile's mtime test.
    if (typeof lockHolder === 'number') removeStaleLock(lockDir, lockHolder);
    try {
      return handle(await lockfile.lock(abs, options), null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ELOCKED') {
        throw usageError(
          `invalid --pidfile "${given}": cannot create its lock ${lockDir} (${code === 'EACCES' ? 'permission denied' : (code ?? String(err))})`,
        );
      }
      // Another master took it between our look and our mkdir, or a lock naming nobody is fresh.
      if (Date.now() > deadline)
        throw bindError(`pidfile ${given} is locked by another process: ${lockDir} names no holder and is kept fresh`);
      await sleep(50);
    }
  }
}

interface HandleParts {
  abs: string;
  given: string;
  pid: number;
  log: Logger;
  state: { handedOver: boolean };
  /** Takes the lock (proper-lockfile); resolves with its release. */
  lock: () => Promise<() => Promise<void>>;
  /** The lock's release, or null while the old master of a hot upgrade still holds it. */
  unlock: (() => Promise<void>) | null;
  lockDir: string;
  /** The old master we take the pidfile over from; null when we locked it ourselves. */
  parent: number | null;
}

// Long because it is the handle's four methods over one shared state; each method is short.
function pidfileHandle(parts: HandleParts): Pidfile {
  const { abs, given, pid, log, state, lockDir, parent } = parts;
  let unlock = parts.unlock;
  const publish = (): void => {
    const temp = join(dirname(abs), `.${basename(abs)}.${pid}.tmp`);
    try {
      // Named by our pid while we hold the lock: one left there is from an earlier holder with
      // our pid (PID 1 in a restarted container). 'wx' never follows a symlink put in its place.
      fs.rmSync(temp, { force: true });
      fs.writeFileSync(temp, `${pid}\n`, { flag: 'wx', mode: 0o644 });
      fs.renameSync(temp, abs);
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw usageError(`cannot write --pidfile "${given}": ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    // No `pid` field: the line's own pid (pino's) is the one written.
    log.info({ event: 'pidfile', path: abs }, `wrote pid ${pid} to ${abs}`);
  };
  return {
    path: abs,
    publish,
    async takeOver(): Promise<void> {
      try {
        // First the pid (one rename: a reader sees the old pid or ours, never neither), then the
        // lock. In between the lock still names the old master, which is alive (draining) or
        // gone, and either way a third master refuses: it sees our pid in the pidfile.
        publish();
        if (unlock !== null || parent === null) return;
        removeStaleLock(lockDir, parent);
        unlock = await parts.lock();
        log.info(
          { event: 'pidfile-lock', path: lockDir, from: parent },
          `took over the pidfile lock ${lockDir} from pid ${parent}`,
        );
      } catch (err) {
        log.error(
          { event: 'pidfile-takeover-failed', path: abs, reason: (err as Error).message },
          `cannot take over the pidfile ${abs} (${(err as Error).message}); serving on without its lock`,
        );
      }
    },
    async handOver(): Promise<void> {
      state.handedOver = true;
      try {
        await unlock?.();
      } catch {
        // Compromised (already logged): nothing left to stop.
      }
      unlock = null;
    },
    async release(): Promise<void> {
      if (state.handedOver) {
        // The new master renamed its pid into place, unless its configuration names another
        // pidfile: then ours is left to us, and goes.
        if (readPid(abs) !== pid) return;
        fs.rmSync(abs, { force: true });
        try {
          removeStaleLock(lockDir, pid);
        } catch {
          // Not only ours inside: leave it.
        }
        log.debug({ event: 'pidfile-removed', path: abs }, `removed ${abs}: the new master uses another pidfile`);
        return;
      }
      const holder = readPid(abs);
      if (holder === pid) {
        fs.rmSync(abs, { force: true });
        log.debug({ event: 'pidfile-removed', path: abs }, `removed ${abs}`);
      } else if (holder !== null && unlock !== null) {
        log.warn({ event: 'pidfile-not-ours', path: abs }, `left ${abs} in place: it no longer holds pid ${pid}`);
      }
      try {
        await unlock?.();
      } catch {
        // Compromised (already logged) or gone: nothing of ours left to remove.
      }
    },
  };
}

/** The path checks lockPidfile makes first, without locking (for --check-config). */
export function checkPidfilePath(path: string, given: string): void {
  const abs = resolve(path);
  checkPath(abs, given, `${abs}.lock`);
}
