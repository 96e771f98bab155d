import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { ROOT } from '../helpers/prefork.js';

// The structure issue's rules for the code that runs in a worker, checked on the source so they
// hold after the next change too: one worker object, one heartbeat, no name shared with the API
// (file and function sizes: source-size.test.ts, for all of src/).
const sources = (dir: string): string[] =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f));
const parse = (file: string): ts.SourceFile =>
  ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true);
const workerFiles = sources('src/worker');

test('the worker is one object: src/worker/worker.ts keeps no module-level variables', () => {
  const source = parse('src/worker/worker.ts');
  const variables = source.statements.filter(ts.isVariableStatement).map((s) => s.getText(source).split('\n')[0]);
  assert.deepEqual(variables, []);
});

test('the heartbeat message is built in one place', () => {
  const places = workerFiles.flatMap((file) => {
    // The message literal, not the type that names it.
    const count = readFileSync(join(ROOT, file), 'utf8').split("{ type: 'heartbeat', ").length - 1;
    return count > 0 ? [`${file} x${count}`] : [];
  });
  assert.deepEqual(places, ['src/worker/heartbeat.ts x1']);
});

test("no file under src/worker/ shares its name with the public API's at src/ (the old workers/serve.ts vs serve())", () => {
  const api = new Set(sources('src').map((f) => f.slice('src/'.length)));
  assert.deepEqual(
    workerFiles.filter((f) => api.has(f.slice('src/worker/'.length))),
    [],
  );
});
