import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { referenceDocs } from '../../tools/docs.js';
import { ROOT } from '../helpers/prefork.js';
import { logEvents } from '../../tools/log-events.js';
import { OPTIONS, optionKeys } from '../../src/config/options.js';

test('docs/ holds exactly what npm run docs generates from the code (run it and commit after changing a table)', () => {
  for (const [file, text] of Object.entries(referenceDocs(ROOT))) {
    assert.equal(readFileSync(join(ROOT, file), 'utf8'), text, `${file} is out of date: run npm run docs`);
  }
});

test('the options reference has one row per option in the table, flags as typed (--reload is not --reload-batch)', () => {
  const doc = referenceDocs(ROOT)['docs/options.md'] ?? '';
  for (const key of optionKeys) {
    const d = OPTIONS[key];
    const flag = d.cli === 'positional' ? '`APP`' : d.cli === 'rest' ? '`-- ARGS\\.\\.\\.`' : `\`--${d.name}[ \`]`;
    const rows = doc.split('\n').filter((line) => new RegExp(`^\\| (\`-[a-z]\`, )?${flag}`).test(line));
    assert.equal(rows.length, 1, `one row for ${d.name}`);
  }
});

test('log events are read from the code: names, levels and fields of the lines the master writes', () => {
  const events = logEvents(ROOT, ['src']);
  const byName = new Map(events.map((e) => [e.event, e]));
  const worker = byName.get('worker');
  assert.ok(worker !== undefined, 'the worker state-change event');
  assert.ok(worker.fields.includes('state') && worker.levels.includes('info'));
  const hung = byName.get('worker-hung');
  assert.ok(hung?.levels.includes('error'), 'worker-hung is an error');
  // Every event has a name a log query can use as it is.
  for (const e of events) assert.match(e.event, /^[a-z0-9]+(-[a-z0-9]+)*$/);
});
