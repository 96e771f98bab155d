import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findCycles, importGraph, roleViolations } from '../../tools/imports.js';

// Read from the TypeScript sources (type-only and dynamic imports count): see tools/imports.ts.
const graph = importGraph();

test('imports: the graph covers every folder of src/', () => {
  assert.ok(graph.has('src/master/master.ts') && graph.has('src/worker/worker.ts'), [...graph.keys()].join(' '));
  assert.ok(graph.get('src/cli/main.ts')?.includes('src/launch/launcher.ts'), 'a known import is seen');
});

test('imports: no module of src/ imports itself back through others (no cycle)', () => {
  const cycles = findCycles(graph);
  assert.deepEqual(
    cycles.map((c) => c.join(' <-> ')),
    [],
    'modules that import each other, directly or around a circle',
  );
});

test('imports: the roles stay apart: nothing loads src/worker, which loads only itself and src/shared', () => {
  assert.deepEqual(roleViolations(graph), []);
});

test('roleViolations: names an import from the master into the worker, and one from shared into the master', () => {
  const wrong = new Map([
    ['src/master/a.ts', ['src/worker/b.ts', 'src/shared/c.ts']],
    ['src/shared/c.ts', ['src/master/a.ts', 'src/config/options.ts']],
    ['src/worker/b.ts', ['src/shared/c.ts']],
  ]);
  assert.deepEqual(roleViolations(wrong), ['src/master/a.ts -> src/worker/b.ts', 'src/shared/c.ts -> src/master/a.ts']);
});

test('findCycles: finds a circle and a self-import, and nothing in a one-way chain', () => {
  const circle = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['d']],
    ['e', ['a']],
  ]);
  assert.deepEqual(
    findCycles(circle)
      .map((c) => c.join(','))
      .sort(),
    ['a,b,c', 'd'],
  );
  assert.deepEqual(
    findCycles(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', []],
      ]),
    ),
    [],
  );
});
