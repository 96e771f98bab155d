/**
 * prefork's own logger: pino's line format (`{"level":30,"time":...,"pid":...,"role":"master",
 * ...bindings, ...fields,"msg":"..."}`) without pino. Lifecycle lines are a few a minute, and the
 * app's own output goes out line by line through the same synchronous write, so none of them
 * needs pino's speed; loading pino (with sonic-boom, thread-stream and the worker_threads it pulls
 * in) cost each process 1.3-1.6 MB of RSS and ~10 ms of start-up on Node 20-24, the master and
 * every worker alike. Only the access log, one line per request, still goes through pino
 * (log.ts loads it on demand).
 */

/** pino's numeric levels, which every line carries and log.ts's pretty printer names. */
export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
export type LevelName = keyof typeof LEVELS;

export interface LogFn {
  (fields: Record<string, unknown>, msg?: string): void;
  (msg: string): void;
}

/** One line at a time; log-destination.ts's LogDestination (or the pretty printer) takes it. */
export interface LineSink {
  write(line: string): unknown;
}

/** As pino's err serializer: an Error in `err` becomes its type, message, stack and own fields. */
function serializeError(err: Error): Record<string, unknown> {
  const own: Record<string, unknown> = {
    type: err.constructor?.name ?? err.name,
    message: err.message,
    stack: err.stack,
  };
  return Object.assign(own, err);
}

/** JSON of one entry; a value JSON cannot hold (a cycle, a BigInt) becomes a string rather than losing the line. */
function toJson(entry: Record<string, unknown>): string {
  const plain = (_key: string, value: unknown): unknown =>
    typeof value === 'bigint' ? value.toString() : value instanceof Error ? serializeError(value) : value;
  try {
    return JSON.stringify(entry, plain);
  } catch {
    const safe: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(entry)) safe[k] = typeof v === 'object' && v !== null ? String(v) : v;
    return JSON.stringify(safe, plain);
  }
}

/** Shared by a logger and its children, so `level` set on the root applies to all (a reload changes it). */
class Threshold {
  constructor(public name: LevelName) {}
}

export class LeanLogger {
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;

  constructor(
    level: string | Threshold,
    private readonly bindings: Record<string, unknown>,
    private readonly sink: LineSink,
  ) {
    this.#threshold = level instanceof Threshold ? level : new Threshold(levelName(level));
    this.trace = this.#at(LEVELS.trace);
    this.debug = this.#at(LEVELS.debug);
    this.info = this.#at(LEVELS.info);
    this.warn = this.#at(LEVELS.warn);
    this.error = this.#at(LEVELS.error);
    this.fatal = this.#at(LEVELS.fatal);
  }

  readonly #threshold: Threshold;

  get level(): string {
    return this.#threshold.name;
  }

  set level(name: string) {
    this.#threshold.name = levelName(name);
  }

  /** A logger whose lines also carry `bindings` (a worker's slot and pid); it follows this one's level. */
  child(bindings: Record<string, unknown>): LeanLogger {
    return new LeanLogger(this.#threshold, { ...this.bindings, ...bindings }, this.sink);
  }

  #at(level: number): LogFn {
    return (fieldsOrMsg: Record<string, unknown> | string, msg?: string) => {
      if (level < LEVELS[this.#threshold.name]) return;
      const fields = typeof fieldsOrMsg === 'string' ? {} : fieldsOrMsg;
      msg = typeof fieldsOrMsg === 'string' ? fieldsOrMsg : msg;
      const entry: Record<string, unknown> = { level, time: Date.now(), ...this.bindings, ...fields };
      if (msg !== undefined) entry.msg = msg;
      this.sink.write(`${toJson(entry)}\n`);
    };
  }
}

function levelName(name: string): LevelName {
  if (!Object.hasOwn(LEVELS, name)) throw new Error(`unknown log level ${JSON.stringify(name)}`);
  return name as LevelName;
}
