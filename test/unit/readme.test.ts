import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExitCode } from '../../src/exit-codes.js';
import { OPTIONS } from '../../src/options.js';
import { MASTER_SIGNALS } from '../../src/signals.js';
import { ROOT } from '../helpers/prefork.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

test('README documents every option in the table', () => {
  for (const d of Object.values(OPTIONS)) {
    if (d.cli === 'positional') continue;
    assert.ok(readme.includes(`--${d.name}`), `README lacks --${d.name}`);
  }
});

test('README documents every master signal and every exit code', () => {
  for (const { signal } of MASTER_SIGNALS) assert.ok(readme.includes(`\`${signal.replace(/^SIG/, '')}\``), `README lacks ${signal}`);
  for (const code of Object.values(ExitCode)) assert.match(readme, new RegExp(`^\\| ${code} \\|`, 'm'), `README lacks exit code ${code}`);
});

test('README gives the two set-up commands and the test command', () => {
  for (const command of ['npm install', 'npm start', 'npm test']) assert.ok(readme.includes(command), command);
});
