import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorSite } from '../../src/worker/load-error.js';

test("errorSite: a CommonJS SyntaxError's place is the head of its stack", () => {
  const err = new SyntaxError('missing ) after argument list');
  err.stack =
    '/app/lib/bad.js:2\nconsole.log("a" "b");\n            ^^^\n\nSyntaxError: missing ) after argument list\n';
  const site = errorSite(err, '/app/server.js');
  assert.equal(site.where, '/app/lib/bad.js:2');
  assert.match(site.detail, /\^\^\^/);
});

test("errorSite: a thrown error's place is its first frame outside Node, file: URLs as paths", () => {
  const err = new Error('boom');
  err.stack =
    'Error: boom\n    at ModuleJob.run (node:internal/modules/esm/module_job:1:2)\n    at file:///app/lib/boom.mjs:2:7';
  assert.equal(errorSite(err, '/app/server.mjs').where, '/app/lib/boom.mjs:2');
  const cjs = new Error('boom');
  cjs.stack =
    'Error: boom\n    at Object.<anonymous> (/app/lib/boom.cjs:3:9)\n    at Module._compile (node:internal/x:1:1)';
  assert.equal(errorSite(cjs, '/app/server.cjs').where, '/app/lib/boom.cjs:3');
});

test('errorSite: no place known gives null, with the stack kept', () => {
  const site = errorSite('a string thrown', '/nonexistent/app.cjs');
  assert.equal(site.where, null);
  assert.equal(site.detail, 'a string thrown');
});
