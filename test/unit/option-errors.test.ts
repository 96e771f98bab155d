import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { octalMode } from '../../src/config/option-parsers.js';
import { configFile, dir, json, sources, usage } from '../helpers/config-files.js';

describe('bad values are exit 2 naming the value and its source', () => {
  for (const bad of ['0', '-1', 'abc', '1.5']) {
    test(`workers ${JSON.stringify(bad)} from --workers, env and config file`, async () => {
      await usage(resolveConfig(sources({ workers: bad })), '--workers', `"${bad}"`);
      await usage(resolveConfig(sources({}, { PREFORK_WORKERS: bad })), 'env PREFORK_WORKERS', `"${bad}"`);
      const file = json({ workers: bad });
      await usage(resolveConfig(sources({ config: file })), `"workers" in ${file}`, `"${bad}"`);
    });
  }

  test('workers as JSON numbers in a config file', async () => {
    for (const bad of [0, -1, 1.5, 1025]) {
      const file = json({ workers: bad });
      await usage(resolveConfig(sources({ config: file })), `"workers" in ${file}`, String(bad));
    }
  });

  for (const bad of ['0999', '8', 'rw', '01000', '']) {
    test(`socket-mode ${JSON.stringify(bad)}`, async () => {
      await usage(resolveConfig(sources({ socketMode: bad })), '--socket-mode', `"${bad}"`, 'octal');
      if (bad !== '')
        await usage(resolveConfig(sources({}, { PREFORK_SOCKET_MODE: bad })), 'env PREFORK_SOCKET_MODE', `"${bad}"`);
      const file = json({ 'socket-mode': bad });
      await usage(resolveConfig(sources({ config: file })), `"socket-mode" in ${file}`, `"${bad}"`);
    });
  }

  test('log-level "loud"', async () => {
    await usage(resolveConfig(sources({ logLevel: 'loud' })), '--log-level', '"loud"', 'info');
    await usage(resolveConfig(sources({}, { PREFORK_LOG_LEVEL: 'loud' })), 'env PREFORK_LOG_LEVEL', '"loud"');
    const file = json({ logLevel: 'loud' });
    await usage(resolveConfig(sources({ config: file })), `"logLevel" in ${file}: "loud"`);
  });

  test('graceful-timeout "-1"', async () => {
    await usage(resolveConfig(sources({ gracefulTimeout: '-1' })), '--graceful-timeout', '"-1"');
    await usage(resolveConfig(sources({}, { PREFORK_GRACEFUL_TIMEOUT: '-1' })), 'env PREFORK_GRACEFUL_TIMEOUT', '"-1"');
    const file = json({ gracefulTimeout: -1 });
    await usage(resolveConfig(sources({ config: file })), `"gracefulTimeout" in ${file}: -1`);
  });

  test('other bad values', async () => {
    await usage(resolveConfig(sources({ keepAliveTimeout: 'soon' })), '--keep-alive-timeout', '"soon"');
    await usage(resolveConfig(sources({ backlog: '0' })), '--backlog', '"0"');
    await usage(resolveConfig(sources({ logFormat: 'xml' })), '--log-format', '"xml"');
    await usage(resolveConfig(sources({}, { PREFORK_FACTORY: 'maybe' })), 'env PREFORK_FACTORY', '"maybe"');
    await usage(resolveConfig(sources({ app: '   ' })), 'APP');
    await usage(resolveConfig(sources({ bind: ['8000'] })), '"8000"', ':8000');
    await usage(resolveConfig(sources({}, { PREFORK_BIND: 'nope' })), '"nope"');
  });

  test('a bad bind names its source', async () => {
    await usage(resolveConfig(sources({}, { PREFORK_BIND: '8000' })), '"8000"', 'env PREFORK_BIND');
    const file = json({ bind: '8000' });
    await usage(resolveConfig(sources({ config: file })), '"8000"', `"bind" in ${file}`);
  });

  test('the first layer that sets a value is the only one validated', async () => {
    // A bad env value is ignored when the CLI sets the option, and a bad file value when env does.
    assert.equal((await resolveConfig(sources({ workers: '2' }, { PREFORK_WORKERS: 'abc' }))).workers, 2);
    const file = json({ workers: 'abc' });
    assert.equal((await resolveConfig(sources({ config: file }, { PREFORK_WORKERS: '3' }))).workers, 3);
  });
});

describe('config file errors', () => {
  test('unknown key', async () => {
    const file = json({ workers: 2, wrokers: 3 });
    await usage(resolveConfig(sources({ config: file })), '"wrokers"', file);
  });

  test('CLI-only keys are unknown in a config file', async () => {
    const file = json({ checkConfig: true });
    await usage(resolveConfig(sources({ config: file })), '"checkConfig"', file);
  });

  test('file not found (.json, .mjs, .cjs)', async () => {
    for (const name of ['missing.json', 'missing.mjs', 'missing.cjs']) {
      const file = join(dir, name);
      await usage(resolveConfig(sources({ config: file })), file, 'not found');
    }
    await usage(resolveConfig(sources({}, { PREFORK_CONFIG: join(dir, 'gone.json') })), 'gone.json', 'not found');
  });

  test('invalid JSON', async () => {
    const file = configFile('json', '{ "workers": 2, }');
    await usage(resolveConfig(sources({ config: file })), file, 'not valid JSON');
  });

  test('a config file holding an array, a string or null', async () => {
    await usage(resolveConfig(sources({ config: json([{ workers: 2 }]) })), 'an array');
    await usage(resolveConfig(sources({ config: json('workers') })), 'string');
    await usage(resolveConfig(sources({ config: json(null) })), 'object');
    await usage(resolveConfig(sources({ config: configFile('mjs', 'export const workers = 2;\n') })), 'undefined');
  });

  test('a JS config file that throws', async () => {
    const file = configFile('cjs', `throw new Error('boom in config');\n`);
    await usage(resolveConfig(sources({ config: file })), file, 'boom in config');
  });

  test('unsupported extension', async () => {
    const file = join(dir, 'prefork.yaml');
    writeFileSync(file, 'workers: 2\n');
    await usage(resolveConfig(sources({ config: file })), file, '.json');
  });
});

describe('octal socket modes', () => {
  const cases: [unknown, number][] = [
    ['0660', 0o660],
    ['600', 0o600],
    ['0o644', 0o644],
    ['0O640', 0o640],
    ['0', 0],
    ['0777', 0o777],
    ['  0640 ', 0o640],
  ];
  for (const [raw, expected] of cases) {
    test(`${JSON.stringify(raw)} -> 0o${expected.toString(8)}`, () => {
      assert.equal(octalMode(raw, '--socket-mode'), expected);
    });
  }

  test('through resolveConfig from each layer', async () => {
    assert.equal((await resolveConfig(sources({ socketMode: '0660' }))).socketMode, 0o660);
    assert.equal((await resolveConfig(sources({}, { PREFORK_SOCKET_MODE: '600' }))).socketMode, 0o600);
    assert.equal((await resolveConfig(sources({ config: json({ socketMode: '0o644' }) }))).socketMode, 0o644);
  });

  test('a number is refused from every source: 440 would be 0o670 in JSON but 0o440 on the command line', async () => {
    for (const raw of [440, 0o600, 660])
      assert.throws(
        () => octalMode(raw, '--socket-mode'),
        /as a string, e\.g\. "0660" \(a number would read as decimal\)/,
      );
    const file = json({ socketMode: 440 });
    await usage(
      resolveConfig(sources({ config: file })),
      `invalid "socketMode" in ${file}: 440: expected an octal file mode as a string`,
    );
    const mjs = configFile('mjs', 'export default { socketMode: 0o600 };\n');
    await usage(resolveConfig(sources({ config: mjs })), `"socketMode" in ${mjs}: 384`);
  });
});
