import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { ROOT } from '../helpers/prefork.js';

// The structure issue's rule: no source file over 400 lines, tests and tools included. Counted as the
// file stands (as an editor numbers it), so a file near the limit is split before it grows past it.
const MAX_LINES = 400;

const sources = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.d.ts'))
    .map((d) => relative(ROOT, join(d.parentPath, d.name)))
    .sort();

const lineCount = (text: string): number => (text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0));

test('the line count is what an editor shows', () => {
  assert.equal(lineCount(''), 0);
  assert.equal(lineCount('a\n'), 1);
  assert.equal(lineCount('a\nb'), 2);
  assert.equal(lineCount('a\n\nb\n'), 3);
});

/** The files among these that are over MAX_LINES, with their counts. */
const overLimit = (files: readonly string[]): string[] =>
  files
    .map((file) => ({ file, lines: lineCount(readFileSync(join(ROOT, file), 'utf8')) }))
    .filter(({ lines }) => lines > MAX_LINES)
    .map(({ file, lines }) => `${file}: ${lines} lines`);

test(`no .ts file under src/ is over ${MAX_LINES} lines`, () => {
  const files = sources('src');
  assert.ok(
    files.includes(join('src', 'master', 'master.ts')) && files.includes(join('src', 'worker', 'worker.ts')),
    'sources found',
  );
  const over = overLimit(files);
  assert.deepEqual(over, [], `split these files: ${over.join('; ')}`);
});

test(`no .ts file under test/ or tools/ is over ${MAX_LINES} lines`, () => {
  const files = [...sources('test'), ...sources('tools')];
  assert.ok(
    files.includes(join('test', 'helpers', 'prefork.ts')) &&
      files.includes(join('test', 'e2e', 'bad-input.test.ts')) &&
      files.includes(join('tools', 'docs.ts')),
    'sources found',
  );
  const over = overLimit(files);
  assert.deepEqual(over, [], `split these files: ${over.join('; ')}`);
});

test('no function under src/ is over 60 lines unless a comment right above it says why ("Long because …")', () => {
  const long: string[] = [];
  for (const file of sources('src')) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
        const from = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const to = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const above = text.slice(node.getFullStart(), node.getStart(source));
        if (to - from + 1 > 60 && !/Long because/.test(above))
          long.push(`${file}:${from + 1} (${to - from + 1} lines)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  assert.deepEqual(long, [], 'split these functions, or say beside them why they are long');
});
