/**
 * Shared by the options unit tests: a temp directory for config files, written with fresh names,
 * and the check that a promise is refused as bad usage (exit 2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { ConfigSources } from '../../src/config/config.js';
import type { OptionKey } from '../../src/config/options.js';
import { PreforkError } from '../../src/shared/exit-codes.js';

export let dir: string;
let counter = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefork-options-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a config file with a fresh name (ESM imports are cached by URL) and returns its path. */
export function configFile(ext: 'json' | 'mjs' | 'cjs', body: string): string {
  const path = join(dir, `config-${++counter}.${ext}`);
  writeFileSync(path, body);
  return path;
}

export const json = (value: unknown): string => configFile('json', JSON.stringify(value));

export function sources(
  argv: Partial<Record<OptionKey, unknown>> = {},
  env: NodeJS.ProcessEnv = {},
  stdoutIsTTY = false,
): ConfigSources {
  return { argv: { app: 'server.js', ...argv }, env, cwd: dir, stdoutIsTTY };
}

/** Asserts the promise rejects with a PreforkError, exit code 2, whose message contains every mention. */
export async function usage(promise: Promise<unknown>, ...mentions: (string | RegExp)[]): Promise<string> {
  let message = '';
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof PreforkError, `expected a PreforkError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    message = err.message;
    for (const m of mentions) {
      if (typeof m === 'string')
        assert.ok(err.message.includes(m), `message should mention ${JSON.stringify(m)}: ${err.message}`);
      else assert.match(err.message, m);
    }
    return true;
  });
  return message;
}
