import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type { pino as Pino } from 'pino';
import { LeanLogger, type LogFn } from './lean-log.js';
import { usageError } from './exit-codes.js';
import { type FileOwner, LogDestination, openLogFile, trustedSymlink } from './log-destination.js';
import type { Config } from '../config/options.js';
import { fs } from './builtins.js';

const { accessSync, constants: fsConstants, lstatSync, statSync } = fs;

/** What prefork's code logs through: a LeanLogger, or pino for the access log. */
export interface Logger {
  level: string;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

/** Loaded on first use: only a worker with --access-log needs it (lean-log.ts says why). */
let pinoModule: typeof Pino | null = null;
function loadPino(): typeof Pino {
  pinoModule ??= (createRequire(import.meta.url)('pino') as { pino: typeof Pino }).pino;
  return pinoModule;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const HIDDEN = new Set(['level', 'time', 'pid', 'msg', 'role', 'worker', 'workerPid', 'name', 'event']);

/** A master line about one worker (its handle's child logger binds both) names it before the message. */
function about(entry: Record<string, unknown>): string {
  if (entry.role === 'worker' || entry.worker === undefined) return '';
  const pid = entry.workerPid === undefined ? '' : ` (pid ${String(entry.workerPid)})`;
  return `worker ${String(entry.worker)}${pid} `;
}

/** One JSON log line as a human reads it: time, level, who, message, then the other fields. */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return `${json}\n`;
  }
  if (entry === null || typeof entry !== 'object' || !Number.isFinite(Number(entry.time))) return `${json}\n`;
  const time = new Date(Number(entry.time)).toISOString().slice(11, 23);
  const level = (LEVEL_NAMES[Number(entry.level)] ?? String(entry.level)).padEnd(5);
  const who = entry.role === 'worker' ? `worker ${String(entry.worker)}` : String(entry.role ?? '');
  const extra = Object.entries(entry)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const msg = `${about(entry)}${String(entry.msg ?? '')}`;
  return `${time} ${level} ${who} (${String(entry.pid)}) ${msg}${extra ? `  ${extra}` : ''}\n`;
}

export interface LogIdentity {
  role: 'master' | 'worker';
  worker?: number;
}

export type LogSettings = Pick<Config, 'logLevel' | 'logFormat' | 'name'> & {
  /** An absolute path (config.ts resolves it once, so every process opens the same file); null = stdout. */
  logFile?: string | null;
};

/** What a logger writes to, kept so the access log and the app's output can share it and SIGUSR1 can reopen it. */
interface Sink {
  readonly destination: LogDestination;
  readonly settings: LogSettings;
  readonly base: Record<string, unknown>;
}

/** This module is the one place that knows where lines go: loggers map to their sink here. */
const sinks = new WeakMap<Logger, Sink>();

function describeOpenError(err: unknown, file: string): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return `directory ${dirname(file)} does not exist`;
  if (code === 'ENOTDIR') return `a component of ${dirname(file)} is not a directory`;
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ELOOP')
    return 'it is a symbolic link in a directory others may write to (or owned by another user), which prefork never follows';
  return code ?? ((err as Error)?.message ?? String(err)).split('\n')[0] ?? 'unknown error';
}

const logFileError = (err: unknown, file: string): Error =>
  usageError(
    `invalid --log-file "${file}": ${describeOpenError(err, file)}; expected a writable file in an existing directory`,
  );

/**
 * Every process opens the file itself with O_APPEND, as the user it runs as: each pino line is
 * one small write(2), so lines from the master and the workers never interleave mid-line, and no
 * process has to carry another's output. An unwritable path throws a usage error before anything
 * is created. `orStdout`: write to stdout instead, and try the file again at the next reopen.
 */
function openDestination(file: string | null, orStdout: boolean): LogDestination {
  if (file === null) return new LogDestination(1, null);
  try {
    const { fd, created } = openLogFile(file);
    return new LogDestination(fd, file, { created });
  } catch (err) {
    if (orStdout) return new LogDestination(1, file);
    throw logFileError(err, file);
  }
}

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

/** --check-config: would the file open? Answers without creating it. */
export function checkLogFile(file: string): void {
  try {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() && !trustedSymlink(file)) throw errno('ELOOP');
    if (stat?.isDirectory()) throw errno('EISDIR');
    // statSync throws ENOENT when the directory is missing.
    if (stat === undefined && !statSync(dirname(file)).isDirectory()) throw errno('ENOTDIR');
    accessSync(stat === undefined ? dirname(file) : file, fsConstants.W_OK);
  } catch (err) {
    throw logFileError(err, file);
  }
}

/**
 * Writes synchronously: lifecycle lines are few, and a line that a crash or process.exit()
 * swallows is the one an operator needs most. Throws a usage error when the file cannot be
 * opened, unless `orStdout` (a worker: serving beats logging), which logs to stdout until a
 * reopen succeeds.
 */
export function createLogger(settings: LogSettings, who: LogIdentity, opts: { orStdout?: boolean } = {}): Logger {
  const destination = openDestination(settings.logFile ?? null, opts.orStdout ?? false);
  const base: Record<string, unknown> = { pid: process.pid, role: who.role };
  if (who.worker !== undefined) base.worker = who.worker;
  if (settings.name !== null) base.name = settings.name;
  const log = build(settings.logLevel, settings.logFormat, base, destination);
  sinks.set(log, { destination, settings, base });
  destination.onDropped = (count, reason) => {
    log.warn(
      { event: 'log-dropped', count, reason },
      `${count} log line(s) dropped: the log could not be written (${reason})`,
    );
  };
  return log;
}

/** See LogDestination#giveTo: the master, once it knows the workers' --user. */
export function giveLogFileTo(log: Logger, owner: FileOwner): void {
  sinks.get(log)?.destination.giveTo(owner);
}

function build(
  level: string,
  format: LogSettings['logFormat'],
  base: Record<string, unknown>,
  destination: LogDestination,
): Logger {
  const pretty = { write: (line: string) => destination.write(prettyLine(line.trimEnd())) };
  return new LeanLogger(level, base, format === 'pretty' ? pretty : destination);
}

/** The file `log` appends to, or null when it writes to stdout. */
export function logFileOf(log: Logger): string | null {
  return sinks.get(log)?.destination.file ?? null;
}

/**
 * SIGUSR1: open the log file again by its name (logrotate has renamed the old one) and write
 * there from now on; every logger sharing the sink follows. Returns the file, or null when
 * logging to stdout. When the file cannot be opened it throws a one-line error and the old
 * file stays in use, so no line is lost.
 */
export function reopenLogFile(log: Logger): string | null {
  const destination = sinks.get(log)?.destination;
  const file = destination?.file ?? null;
  if (destination === undefined || file === null) return null;
  try {
    destination.reopen();
  } catch (err) {
    throw new Error(`cannot reopen ${file}: ${describeOpenError(err, file)}; still writing to the file it replaced`, {
      cause: err,
    });
  }
  return file;
}

/**
 * The access log: one JSON line per request whatever --log-format says (log shippers parse
 * it), to the same destination as `log`. Switched on by --access-log alone, so --log-level
 * does not filter it.
 */
export function accessLogger(log: Logger): Logger {
  const sink = sinks.get(log);
  if (sink === undefined) return log;
  // JSON lines through pino even under --log-format pretty: one per request wants its speed.
  const pino = loadPino();
  return pino({ level: 'info', base: sink.base, timestamp: pino.stdTimeFunctions.epochTime }, sink.destination);
}

/**
 * The app's own output (console.*, process.stdout/stderr): same destination and format as
 * `log`, tagged like it. It is the app's, so prefork's --log-level does not filter it.
 */
export function appOutputLogger(log: Logger): Logger {
  const sink = sinks.get(log);
  if (sink === undefined) return log;
  return build('info', sink.settings.logFormat, sink.base, sink.destination);
}
