import { Writable } from 'node:stream';
import { pino, type Logger, type DestinationStream } from 'pino';
import type { Config } from './options.js';

export type { Logger };

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'pid', 'msg', 'role', 'worker', 'name', 'event']);

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
  return `${time} ${level} ${who} (${String(entry.pid)}) ${String(entry.msg ?? '')}${extra ? `  ${extra}` : ''}\n`;
}

function prettyStream(out: DestinationStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      out.write(chunk.toString('utf8').split('\n').filter(Boolean).map(prettyLine).join(''));
      done();
    },
  });
}

export interface LogIdentity {
  role: 'master' | 'worker';
  worker?: number;
}

/**
 * Writes synchronously: lifecycle lines are few, and a line that a crash or process.exit()
 * swallows is the one an operator needs most.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat' | 'name'>, who: LogIdentity): Logger {
  const destination = pino.destination({ dest: 1, sync: true });
  const base: Record<string, unknown> = { pid: process.pid, role: who.role };
  if (who.worker !== undefined) base.worker = who.worker;
  if (config.name !== null) base.name = config.name;
  const options = { level: config.logLevel, base, timestamp: pino.stdTimeFunctions.epochTime };
  return config.logFormat === 'pretty' ? pino(options, prettyStream(destination)) : pino(options, destination);
}
