import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { PACKAGE_ROOT } from '../src/shared/package-paths.js';

/**
 * The module graph of src/, read from the TypeScript sources (static imports, `export ... from`,
 * `import type` and dynamic `import()` alike: a cycle through types or a lazy load is still two
 * modules that cannot be understood apart). `node dist/tools/imports.js` prints every cycle and
 * every import that crosses the process roles the wrong way (roleViolations); test/unit/imports
 * fails on them.
 */

export const ROOT = PACKAGE_ROOT;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** File (relative to the root, e.g. `src/shared/log.ts`) -> the project files it imports. */
export function importGraph(root = ROOT, dirs: readonly string[] = ['src']): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of dirs.flatMap((d) => sourceFiles(join(root, d)))) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(root, resolve(dirname(file), name.replace(/\.js$/, '.ts'))));
    graph.set(relative(root, file), [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle, each once, as the list of files around it (Tarjan's strongly connected components). */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** The folder under src/ that a file belongs to: its process role (cli, config, master, worker, …). */
const roleOf = (file: string): string => (file.split('/').length > 2 ? (file.split('/')[1] ?? '') : 'api');

/**
 * Imports that cross the process roles the wrong way. Code that runs in a worker (src/worker)
 * loads only its own folder and src/shared; nothing else loads the worker's folder (the master
 * never runs worker code); and src/shared, which both sides load, depends on no role but the
 * option types of src/config.
 */
export function roleViolations(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const allowed = (from: string, to: string): boolean => {
    const [a, b] = [roleOf(from), roleOf(to)];
    if (a === b) return true;
    if (a === 'worker') return b === 'shared';
    if (b === 'worker') return false;
    if (a === 'shared') return b === 'config';
    return true;
  };
  return [...graph].flatMap(([from, to]) => to.filter((t) => !allowed(from, t)).map((t) => `${from} -> ${t}`));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const graph = importGraph();
  const cycles = findCycles(graph);
  const wrong = roleViolations(graph);
  for (const c of cycles) process.stdout.write(`cycle: ${c.join(' <-> ')}\n`);
  for (const w of wrong) process.stdout.write(`crosses roles: ${w}\n`);
  process.exitCode = cycles.length + wrong.length === 0 ? 0 : 1;
}
