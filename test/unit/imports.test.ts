import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findCycles, importGraph, masterIntoWorkers } from '../../tools/imports.js';

// Read from the TypeScript sources (type-only and dynamic imports count): see tools/imports.ts.
const graph = importGraph();

test('imports: the graph covers src/ and workers/, subfolders included', () => {
  assert.ok(graph.has('src/master.ts') && graph.has('workers/worker.ts'), [...graph.keys()].join(' '));
  assert.ok(graph.get('src/cli-main.ts')?.includes('src/prefork.ts'), 'a known import is seen');
});

test('imports: no module of src/ or workers/ imports itself back through others (no cycle)', () => {
  const cycles = findCycles(graph);
  assert.deepEqual(cycles.map((c) => c.join(' <-> ')), [], 'modules that import each other, directly or around a circle');
});

test('imports: the master side (src/) never imports from workers/', () => {
  assert.deepEqual(masterIntoWorkers(graph), []);
});

test('findCycles: finds a circle and a self-import, and nothing in a one-way chain', () => {
  const circle = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['d']], ['e', ['a']]]);
  assert.deepEqual(findCycles(circle).map((c) => c.join(',')).sort(), ['a,b,c', 'd']);
  assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', []]])), []);
});
