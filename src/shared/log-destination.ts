import { dirname } from 'node:path';
import { fs } from './builtins.js';

const { closeSync, constants: fsConstants, fchownSync, lstatSync, openSync, writeSync } = fs;

/**
 * Where a process's log lines go: a file it opened itself, or stdout. Writes are synchronous
 * (a line that a crash or process.exit() swallows is the one an operator needs most) and never
 * throw: a disk that is full or a pipe that is backed up holds a bounded amount, drops the
 * rest, counts it, and says so once writing works again.
 */

/** Access logs carry query strings (tokens): the file is not for every local user to read. */
export const LOG_FILE_MODE = 0o640;
/** What a process keeps while its lines cannot be written: beyond it they are dropped and counted. */
export const MAX_PENDING_BYTES = 1024 * 1024;
/** Pending lines are tried again with the next line, or after this long when none comes. */
const RETRY_MS = 100;

const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW } = fsConstants;

export interface FileOwner {
  uid: number;
  gid: number;
}

/**
 * A symlink at the log path is followed only where nobody but root (or we) could have planted
 * it: the link and its directory belong to root or to this process's user, and the directory is
 * not writable by group or others. So `/dev/stdout` works, one planted in /tmp or in a directory
 * the app's user may write does not.
 */
export function trustedSymlink(file: string): boolean {
  const link = lstatSync(file, { throwIfNoEntry: false });
  if (link === undefined || !link.isSymbolicLink()) return false;
  const dir = lstatSync(dirname(file));
  const ours = (uid: number): boolean => uid === 0 || uid === process.geteuid?.();
  return ours(link.uid) && ours(dir.uid) && (dir.mode & 0o022) === 0;
}

/**
 * Opens `file` to append, never through an untrusted symlink at that path (one planted in a
 * directory others may write to would send our lines, app-controlled ones included, into any
 * file we may write; see trustedSymlink()). A file it creates is LOG_FILE_MODE; an existing one
 * keeps its mode and owner. Throws the open error (ELOOP for a symlink).
 */
export function openLogFile(file: string): { fd: number; created: boolean } {
  // Through a trusted link we cannot tell who creates the target: not ours to hand to --user.
  if (trustedSymlink(file)) return { fd: openSync(file, O_WRONLY | O_APPEND | O_CREAT, LOG_FILE_MODE), created: false };
  const flags = O_WRONLY | O_APPEND | O_NOFOLLOW;
  try {
    return { fd: openSync(file, flags | O_CREAT | O_EXCL, LOG_FILE_MODE), created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { fd: openSync(file, flags), created: false };
  }
}

/** A file we created goes to the user who writes it too (--user workers of a root master). */
function chown(fd: number, owner: FileOwner | null): void {
  if (owner === null) return;
  try {
    fchownSync(fd, owner.uid, owner.gid);
  } catch {
    // The workers then cannot open it and say so (log-file-failed); the master's lines still land.
  }
}

export type WriteSync = (fd: number, data: string | Uint8Array) => number;
const defaultWrite: WriteSync = (fd, data) => (typeof data === 'string' ? writeSync(fd, data) : writeSync(fd, data));

export interface DestinationOptions {
  /** This process created the file (see giveTo()). */
  created?: boolean;
  /** For tests: the bound, and a write(2) that fails on demand. */
  maxPending?: number;
  writeSync?: WriteSync;
}

const codeOf = (err: unknown): string => (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? String(err);

/** Few (one per process, and in tests): each gets a last try at exit. */
const everyDestination = new Set<LogDestination>();

export class LogDestination {
  #fd: number;
  #file: string | null;
  readonly #pending: Buffer[] = [];
  #pendingBytes = 0;
  #dropped = 0;
  /** Why the last write failed (ENOSPC, EAGAIN, ...), until one works again. */
  #failure: string | null = null;
  #retry: NodeJS.Timeout | null = null;
  readonly #write: WriteSync;
  readonly #maxPending: number;
  /** Called once writing works again after lines were dropped: log.ts logs `log-dropped` there. */
  onDropped: (count: number, reason: string) => void = () => {};

  /**
   * `file` is the path the descriptor `fd` belongs to, which reopen() opens again by name; a
   * destination on stdout (fd 1) may still carry the file it could not open, to try on reopen().
   */
  constructor(fd: number, file: string | null, opts: DestinationOptions = {}) {
    this.#fd = fd;
    this.#file = file;
    this.#created = opts.created ?? false;
    this.#write = opts.writeSync ?? defaultWrite;
    this.#maxPending = opts.maxPending ?? MAX_PENDING_BYTES;
    if (everyDestination.size === 0) process.once('exit', () => everyDestination.forEach((d) => d.flushPending()));
    everyDestination.add(this);
  }

  /** Given the files this process creates (see giveTo()). */
  #owner: FileOwner | null = null;
  /** This process created the file its descriptor writes to. */
  #created: boolean;

  /**
   * A root master whose workers run as --user: the file it created, and the ones a reopen
   * creates, belong to that user, who can then open it with its own privileges.
   */
  giveTo(owner: FileOwner): void {
    this.#owner = owner;
    if (this.#created) chown(this.#fd, owner);
  }

  get file(): string | null {
    return this.#file;
  }

  /** Lines waiting for the destination to take them again (bytes). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** The stream interface pino writes to: one call per line (or per pretty chunk). */
  write(chunk: string): boolean {
    // Older lines first; and the line about what was dropped comes before this one.
    if (this.#pending.length > 0) this.#flush();
    if (this.#pending.length > 0) {
      this.#queue(Buffer.from(chunk));
      return true;
    }
    try {
      const n = this.#write(this.#fd, chunk);
      if (n !== Buffer.byteLength(chunk)) {
        this.#queue(Buffer.from(chunk).subarray(n));
        this.#flush();
      }
    } catch (err) {
      this.#queue(Buffer.from(chunk));
      this.#failed(err);
    }
    return true;
  }

  /**
   * SIGUSR1: open the file by its name again and write there from now on, pending lines first.
   * Throws when it cannot be opened; the current descriptor then stays in use.
   */
  reopen(): void {
    if (this.#file === null) return;
    const { fd, created } = openLogFile(this.#file);
    if (created) chown(fd, this.#owner);
    const old = this.#fd;
    [this.#fd, this.#created] = [fd, created];
    if (old > 2) closeSync(old);
    this.#flush();
  }

  /** One last try, as the process exits. */
  flushPending(): void {
    if (this.#pending.length > 0) this.#flush();
  }

  #queue(data: Buffer): void {
    if (this.#pendingBytes + data.length > this.#maxPending) {
      this.#dropped += 1;
      return;
    }
    this.#pending.push(data);
    this.#pendingBytes += data.length;
  }

  #failed(err: unknown): void {
    this.#failure = codeOf(err);
    if (this.#retry !== null) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#flush();
    }, RETRY_MS).unref();
  }

  /** Writes what is pending, in order, one line per write(2); stops at the first failure. */
  #flush(): void {
    while (this.#pending.length > 0) {
      const head = this.#pending[0] as Buffer;
      let n: number;
      try {
        n = this.#write(this.#fd, head);
      } catch (err) {
        this.#failed(err);
        return;
      }
      if (n <= 0) {
        this.#failed(Object.assign(new Error('nothing written'), { code: 'EAGAIN' }));
        return;
      }
      this.#pendingBytes -= n;
      if (n < head.length) this.#pending[0] = head.subarray(n);
      else this.#pending.shift();
    }
    const reason = this.#failure ?? 'unknown';
    this.#failure = null;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    if (this.#dropped === 0) return;
    const count = this.#dropped;
    this.#dropped = 0;
    this.onDropped(count, reason);
  }
}
