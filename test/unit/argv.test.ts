import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fastParse } from '../../src/cli/argv.js';
import { parseArgv } from '../../src/cli/help.js';

const SAME = [
  ['app.js'],
  ['-w', '4', '-b', 'unix:/run/a.sock', '-b', ':8080', 'server.js:app'],
  ['--workers=3', '--bind', '127.0.0.1:0', '--access-log', '--factory', 'x.mjs'],
  [
    '--graceful-timeout',
    '10',
    '--keep-alive-timeout',
    '2.5',
    '--max-requests',
    '100',
    '--max-requests-jitter',
    '10',
    'a.js',
  ],
  ['-c', 'prefork.json'],
  ['--check-config', '--log-level', 'debug', '--log-format', 'pretty', '--name', 'shop', 'a.js'],
  ['-w', '2', '-w', '3', 'a.js'],
  ['--socket-mode', '0600', '--control', '/run/ctl.sock', '--metrics-bind', '127.0.0.1:9100', 'a.js'],
  ['-w', '0', 'a.js'],
  ['-w', 'abc', 'a.js'],
];

test('the fast parser reads what yargs reads', async () => {
  for (const argv of SAME) {
    const fast = fastParse(argv);
    assert.notEqual(fast, null, `fast path declined ${argv.join(' ')}`);
    assert.deepEqual(fast, await parseArgv(argv), argv.join(' '));
  }
});

test('the fast parser leaves help, version, negations and errors to yargs', () => {
  for (const argv of [
    ['--help'],
    ['-h'],
    ['--version'],
    ['--no-access-log', 'a.js'],
    ['--frobnicate', 'a.js'],
    ['-w'],
    ['a.js', 'b.js'],
    ['-w', '--bind', 'x'],
  ]) {
    assert.equal(fastParse(argv), null, argv.join(' '));
  }
});
