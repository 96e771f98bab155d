import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The module graph of src/ and workers/, read from the TypeScript sources (static imports,
 * `export ... from`, `import type` and dynamic `import()` alike: a cycle through types or a lazy
 * load is still two modules that cannot be understood apart). `node dist/tools/imports.js`
 * prints every cycle and every import from src/ into workers/; test/unit/imports.test.ts fails
 * on them.
 */

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** File (relative to the root, e.g. `src/log.ts`) -> the project files it imports. */
export function importGraph(root = ROOT, dirs: readonly string[] = ['src', 'workers']): Map<string, string[]> {
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

/** Imports that break the one-way rule: the master side (src/) never loads the worker's folder. */
export function masterIntoWorkers(graph: ReadonlyMap<string, readonly string[]>): string[] {
  return [...graph].flatMap(([from, to]) =>
    from.startsWith('src/') ? to.filter((t) => t.startsWith('workers/')).map((t) => `${from} -> ${t}`) : [],
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const graph = importGraph();
  const cycles = findCycles(graph);
  const wrong = masterIntoWorkers(graph);
  for (const c of cycles) process.stdout.write(`cycle: ${c.join(' <-> ')}\n`);
  for (const w of wrong) process.stdout.write(`src imports workers: ${w}\n`);
  process.exitCode = cycles.length + wrong.length === 0 ? 0 : 1;
}
