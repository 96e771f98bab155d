import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runPrefork, tempDir } from '../helpers/prefork.js';

/** Written at test time: a file with a syntax error cannot live in the linted tree. */
function appTree(dir: string, files: Record<string, string>): void {
  mkdirSync(join(dir, 'lib'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

const BAD_LINE = 'console.log("a" "b");';

/** [what, files, APP, the nested file and line the one-line message must name, what the log's stack shows]. */
const CASES: Array<[string, Record<string, string>, string, string, RegExp]> = [
  [
    'a CommonJS syntax error in a required file',
    {
      'server.js': 'require("./lib/bad.js");\nmodule.exports = () => {};\n',
      'lib/bad.js': `const x = 1;\n${BAD_LINE}\n`,
    },
    'server.js',
    'lib/bad.js:2',
    /lib\/bad\.js:2\nconsole\.log\("a" "b"\);\n\s+\^\^\^/,
  ],
  [
    'an ES module syntax error in an imported file',
    {
      'server.mjs': 'import "./lib/ok.mjs";\nexport default () => {};\n',
      'lib/ok.mjs': 'import "./bad.mjs";\nexport const ok = 1;\n',
      'lib/bad.mjs': `const x = 1;\n${BAD_LINE}\n`,
    },
    'server.mjs',
    'lib/bad.mjs:2',
    /lib\/bad\.mjs:2\nconsole\.log\("a" "b"\);\n\s+\^\^\^/,
  ],
  [
    'a throw at import in a nested CommonJS module',
    { 'server.cjs': 'require("./lib/boom.cjs");\n', 'lib/boom.cjs': 'const a = 1;\nthrow new Error("nested boom");\n' },
    'server.cjs',
    'lib/boom.cjs:2',
    /Error: nested boom\n\s+at .*lib\/boom\.cjs:2:7/,
  ],
  [
    'a throw at import in a nested ES module',
    { 'server.mjs': 'import "./lib/boom.mjs";\n', 'lib/boom.mjs': 'const a = 1;\nthrow new Error("nested boom");\n' },
    'server.mjs',
    'lib/boom.mjs:2',
    /Error: nested boom\n\s+at .*lib\/boom\.mjs:2:7/,
  ],
];

for (const [what, files, entry, where, stack] of CASES) {
  test(`${what}: the one-line error names the file and line, the log has the stack`, async (t) => {
    const dir = tempDir(t, 'prefork-load-');
    appTree(dir, files);
    const r = await runPrefork(t, ['-w', '2', '-b', '127.0.0.1:0', join(dir, entry)]);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`threw while loading: .*\\(at ${join(dir, where).replace(/\./g, '\\.')}\\)`));
    const failed = r.logs.find((l) => l.event === 'boot-failed');
    assert.ok(failed, JSON.stringify(r.logs));
    assert.match(String(failed.stack), stack);
  });
}
