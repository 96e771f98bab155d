import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fs } from '../shared/builtins.js';

const { readFileSync } = fs;

/** Where an app's load error is, as `node` itself would show it. */
export interface ErrorSite {
  /** file:line (a path or a file: URL). */
  where: string | null;
  /** The code frame ("file:line\n code\n ^^^") and the stack, for the log. */
  detail: string;
}

const FRAME = /^\s+at (?:.*\()?((?:file:\/\/|\/|[A-Za-z]:\\)[^()]*?):(\d+):\d+\)?$/m;

/**
 * A CommonJS SyntaxError's stack starts with "file:line", the code line and the carets; any other
 * error names its place in the first stack frame that is not Node's own.
 */
export function errorSite(err: unknown, appFile: string): ErrorSite {
  const stack = err instanceof Error ? (err.stack ?? String(err)) : String(err);
  const head = /^(.+):(\d+)\n/.exec(stack);
  if (head !== null && !/^\w*Error\b/.test(stack)) return { where: toPath(`${head[1]}:${head[2]}`), detail: stack };
  const frame = FRAME.exec(stack);
  if (frame !== null) return { where: toPath(`${frame[1]}:${frame[2]}`), detail: stack };
  // An ES module's SyntaxError carries its place only where Node prints it uncaught: ask `node --check`.
  if (err instanceof SyntaxError) {
    const found = checkGraph(appFile);
    if (found !== null) return { where: found.split('\n')[0] ?? null, detail: `${found.trimEnd()}\n\n${stack}` };
  }
  return { where: null, detail: stack };
}

const IMPORT = /(?:^|[;\s])(?:import|export)\s*(?:[^'"`;]*?\sfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]/g;

/**
 * Runs `node --check` (parse only, nothing executes) over the app's relative static imports,
 * breadth first, and returns the first failure's code frame. Bounded: a failure path only.
 */
function checkGraph(appFile: string, limit = 50): string | null {
  const queue = [appFile];
  const seen = new Set(queue);
  for (let i = 0; i < queue.length && i < limit; i++) {
    const file = queue[i] as string;
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 5000 });
    if (check.status !== 0 && check.stderr.trim() !== '') return frameOf(check.stderr);
    for (const m of source.matchAll(IMPORT)) {
      const next = resolve(dirname(file), m[1] as string);
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push(next);
    }
  }
  return null;
}

/** "file:line\ncode\n   ^^^": what precedes the error's own line. */
function frameOf(stderr: string): string {
  const lines = stderr.replace(/^file:\/\/\S+/, (url) => toPath(url)).split('\n');
  const end = lines.findIndex((l) => /^\w*Error\b/.test(l));
  return lines.slice(0, end < 0 ? 3 : end).join('\n');
}

function toPath(urlWithLine: string): string {
  if (!urlWithLine.startsWith('file:')) return urlWithLine;
  const m = /^(.*):(\d+)$/.exec(urlWithLine);
  if (m === null) return urlWithLine;
  try {
    return `${fileURLToPath(m[1] as string)}:${m[2]}`;
  } catch {
    return urlWithLine;
  }
}
