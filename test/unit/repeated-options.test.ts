import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fastParse } from '../../src/cli/argv.js';
import { parseArgv } from '../../src/cli/help.js';
import { formatBind } from '../../src/config/bind.js';
import { resolveConfig } from '../../src/config/config.js';
import type { OptionKey } from '../../src/config/options.js';

/** Both parsers: the fast path (node's parseArgs) and yargs, which reads what the fast path declines. */
const PARSERS = {
  fast: (argv: readonly string[]) => fastParse(argv),
  yargs: (argv: readonly string[]) => parseArgv(argv),
};

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefork-repeated-'));
  writeFileSync(join(dir, 'server.js'), 'module.exports = (req, res) => res.end();\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const [name, parse] of Object.entries(PARSERS)) {
  describe(`a repeated option, ${name} parser`, () => {
    test('a scalar keeps its last value (an ENTRYPOINT default, then the args that override it)', async () => {
      const values = await parse([
        '--graceful-timeout',
        '8',
        '--graceful-timeout',
        '20',
        '-w',
        '2',
        '--workers=3',
        'a.js',
      ]);
      assert.equal(values?.gracefulTimeout, '20');
      assert.equal(values?.workers, '3');
    });

    test('--bind keeps every value, in order', async () => {
      const values = await parse(['-b', ':8000', '--bind', 'unix:/run/a.sock', '-b', '[::1]:9000', 'a.js']);
      assert.deepEqual(values?.bind, [':8000', 'unix:/run/a.sock', '[::1]:9000']);
    });

    test('a repeated boolean is still a boolean', async () => {
      assert.equal((await parse(['--access-log', '--access-log', 'a.js']))?.accessLog, true);
    });
  });
}

test('yargs: a negation after the flag wins, as the last value', async () => {
  assert.equal((await parseArgv(['--access-log', '--no-access-log', 'a.js'])).accessLog, false);
  assert.equal((await parseArgv(['--no-access-log', '--access-log', 'a.js'])).accessLog, true);
});

describe('precedence with repeats: config file < env < CLI', () => {
  const resolve = async (argv: readonly string[], env: NodeJS.ProcessEnv, file?: object) => {
    const values: Partial<Record<OptionKey, unknown>> = fastParse(argv) ?? {};
    if (file !== undefined) {
      const path = join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(path, JSON.stringify(file));
      values.config = path;
    }
    return resolveConfig({ argv: values, env, cwd: dir, stdoutIsTTY: false });
  };

  test('the last CLI value beats PREFORK_* env and the config file', async () => {
    const config = await resolve(
      ['--graceful-timeout', '8', '--graceful-timeout', '20', 'server.js'],
      { PREFORK_GRACEFUL_TIMEOUT: '5' },
      { gracefulTimeout: 3 },
    );
    assert.equal(config.gracefulTimeout, 20);
  });

  test('env still beats the config file when the CLI does not name the option', async () => {
    const config = await resolve(
      ['--workers', '2', 'server.js'],
      { PREFORK_GRACEFUL_TIMEOUT: '5' },
      { gracefulTimeout: 3 },
    );
    assert.equal(config.gracefulTimeout, 5);
  });

  test('repeated --bind replaces PREFORK_BIND as a whole list', async () => {
    const config = await resolve(['-b', '127.0.0.1:8001', '-b', '127.0.0.1:8002', 'server.js'], {
      PREFORK_BIND: '127.0.0.1:9000',
    });
    assert.deepEqual(config.bind.map(formatBind), ['127.0.0.1:8001', '127.0.0.1:8002']);
  });

  test('a bad last value is refused, naming that value; a bad earlier one is overridden', async () => {
    await assert.rejects(resolve(['--graceful-timeout', '8', '--graceful-timeout', 'soon', 'server.js'], {}), {
      message: /^invalid --graceful-timeout "soon": expected a number of seconds/,
    });
    const config = await resolve(['--graceful-timeout', 'soon', '--graceful-timeout', '8', 'server.js'], {});
    assert.equal(config.gracefulTimeout, 8);
  });
});
