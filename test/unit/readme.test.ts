import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { ExitCode } from '../../src/shared/exit-codes.js';
import { MASTER_SIGNALS } from '../../src/master/signals.js';
import { ROOT } from '../helpers/prefork.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

function anchorsIn(text: string): Set<string> {
  const inFences = text.replace(/```[\s\S]*?```/g, '');
  return new Set([...inFences.matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1] ?? '')));
}

test('README is the front door: the two set-up commands, the test command, and at most 16 KB', () => {
  for (const command of ['npm install', 'npm start', 'npm test']) assert.ok(readme.includes(command), command);
  assert.ok(Buffer.byteLength(readme) <= 16 * 1024, `README is ${Buffer.byteLength(readme)} bytes`);
});

test('README links every guide and reference page in docs/', () => {
  for (const file of docs) assert.ok(readme.includes(`](docs/${file}`), `README does not link docs/${file}`);
});

test('every relative link in README and docs/ reaches a file, and a heading when it names one', () => {
  const pages = ['README.md', ...docs.map((f) => join('docs', f))];
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path = '', anchor] = target.split('#');
      const file = path === '' ? join(ROOT, page) : join(ROOT, dirname(page), path);
      assert.ok(existsSync(file), `${page}: link ${target} -> ${relative(ROOT, file)} does not exist`);
      if (anchor !== undefined && anchor !== '' && file.endsWith('.md')) {
        assert.ok(
          anchorsIn(readFileSync(file, 'utf8')).has(anchor),
          `${page}: no heading #${anchor} in ${relative(ROOT, file)}`,
        );
      }
    }
  }
});

test('README summarises every master signal and every exit code', () => {
  for (const { signal } of MASTER_SIGNALS) {
    assert.ok(readme.includes(`\`${signal.replace(/^SIG/, '')}\``), `README lacks ${signal}`);
  }
  for (const code of Object.values(ExitCode)) {
    assert.match(readme, new RegExp(`^\\| ${code} \\|`, 'm'), `README lacks exit code ${code}`);
  }
});

test('every code block in README and the guides says where it is tested, or that it is not run here', () => {
  const pages = ['README.md', ...docs.map((f) => join('docs', f))];
  const unmarked: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    for (const block of text.matchAll(/(?:^|\n)([^\n]*)\n```\w*\n[\s\S]*?\n```/g)) {
      const marker = /^<!-- (tested|not run here): (.+) -->$/.exec(block[1] ?? '');
      const at = `${page}:${text.slice(0, block.index).split('\n').length + 1}`;
      if (marker === null) {
        unmarked.push(at);
        continue;
      }
      if (marker[1] !== 'tested') continue;
      for (const [file] of (marker[2] ?? '').matchAll(/(?:test\/[\w/.-]+\.ts|\.ci\/run)/g)) {
        assert.ok(existsSync(join(ROOT, file)), `${at}: ${file} does not exist`);
      }
    }
  }
  assert.deepEqual(unmarked, [], 'mark each block <!-- tested: test/… --> or <!-- not run here: why -->');
});
