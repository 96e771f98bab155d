import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServerArgv, splitAppArgs } from '../../src/cli/server-argv.js';

test("everything after the first -- is the app's argv, never prefork options", async () => {
  const values = await parseServerArgv(['-w', '2', 'app.js', '--', '--port', '3', '-w', 'x']);
  assert.equal(values.workers, '2');
  assert.equal(values.app, 'app.js');
  assert.deepEqual(values.args, ['--port', '3', '-w', 'x']);
});

test("a second -- and --help after the first are the app's too; no -- leaves args unset", async () => {
  assert.deepEqual(splitAppArgs(['a.js', '--', 'x', '--', '--help']), {
    own: ['a.js'],
    appArgs: ['x', '--', '--help'],
  });
  assert.deepEqual((await parseServerArgv(['a.js', '--'])).args, []);
  assert.equal((await parseServerArgv(['a.js'])).args, undefined);
});
