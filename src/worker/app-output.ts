import { StringDecoder } from 'node:string_decoder';
import { type Logger, appOutputLogger } from '../shared/log.js';

/** The most text kept waiting for a newline: output that never ends a line still gets logged. */
const MAX_PENDING = 16 * 1024;

/**
 * Cuts a stream's writes into log entries: one entry per write that ends a line, so a
 * multi-line console.log (an object, a stack trace) stays one entry; text without a newline
 * waits for the rest of its line.
 */
export class OutputLines {
  #pending = '';

  /** The entry completed by this write, or null while the line is still open. */
  push(text: string): string | null {
    this.#pending += text;
    if (!this.#pending.endsWith('\n') && this.#pending.length < MAX_PENDING) return null;
    return this.flush();
  }

  /** Whatever is pending, as an entry (without its final newline); null when nothing is. */
  flush(): string | null {
    if (this.#pending === '') return null;
    const entry = this.#pending.replace(/\r?\n$/, '');
    this.#pending = '';
    return entry;
  }
}

type Write = typeof process.stdout.write;

function asText(chunk: unknown, encoding: unknown, decoder: StringDecoder): string {
  if (typeof chunk !== 'string') return decoder.write(Buffer.from(chunk as Uint8Array));
  if (typeof encoding === 'string' && !/^utf-?8$/i.test(encoding) && Buffer.isEncoding(encoding))
    return Buffer.from(chunk, encoding).toString('utf8');
  return chunk;
}

/**
 * Routes the app's own output (console.*, process.stdout/stderr.write) into the worker's log
 * destination, one entry per line tagged with the worker (`event: "console"`, `stream`). So
 * it lands in --log-file next to everything else, follows a SIGUSR1 reopen, and on stdout
 * never breaks a JSON log stream with a bare line. Installed before the app loads.
 */
export function captureAppOutput(log: Logger): void {
  const out = appOutputLogger(log);
  for (const [name, level] of [
    ['stdout', 'info'],
    ['stderr', 'error'],
  ] as const) {
    const lines = new OutputLines();
    const decoder = new StringDecoder('utf8');
    const emit = (entry: string | null): void => {
      if (entry !== null) out[level]({ event: 'console', stream: name }, entry);
    };
    const capture = (stream: NodeJS.WriteStream): NodeJS.WriteStream => {
      stream.write = ((chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
        emit(lines.push(asText(chunk, encoding, decoder)));
        const done = typeof encoding === 'function' ? encoding : callback;
        if (typeof done === 'function') process.nextTick(done as () => void);
        return true;
      }) as Write;
      return stream;
    };
    process.on('exit', () => emit(lines.flush()));
    // Node makes process.stdout and stderr on first use (1-2.5 ms for both, most for a pipe), and
    // prefork's own log writes to the descriptor: an app that prints nothing as it loads does not
    // wait for them. The capture takes each stream as it is made.
    const make = Object.getOwnPropertyDescriptor(process, name);
    if (make?.get === undefined) {
      capture(process[name]);
      continue;
    }
    let stream: NodeJS.WriteStream | null = null;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: make.enumerable ?? true,
      get: () => (stream ??= capture(make.get!.call(process) as NodeJS.WriteStream)),
    });
  }
}
