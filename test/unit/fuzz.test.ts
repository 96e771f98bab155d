import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { type BindSpec, formatBind, parseBind } from '../../src/config/bind.js';
import { resolveConfig } from '../../src/config/config.js';
import { PreforkError } from '../../src/shared/exit-codes.js';
import { OPTIONS } from '../../src/config/options.js';

/** Runs fn; the only thing it may throw is our own usage error (exit 2). */
function onlyUsageErrors<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (err) {
    assert.ok(err instanceof PreforkError, `threw a foreign error: ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.ok(!err.message.includes('\n'), 'error messages are one line');
    return null;
  }
}

const bindLike = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc
    .tuple(
      fc.constantFrom('', 'unix:', 'unix://', 'unix:@', 'fd://', '[', '[::1]:', '127.0.0.1:', ':', 'localhost:'),
      fc.string(),
    )
    .map(([a, b]) => a + b),
  fc.tuple(fc.ipV4(), fc.integer({ min: -5, max: 70000 })).map(([h, p]) => `${h}:${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 })).map(([h, p]) => `[${h}]:${p}`),
);

test('parseBind: any string either parses or throws our one-line usage error', () => {
  fc.assert(
    fc.property(bindLike, (raw) => {
      onlyUsageErrors(() => parseBind(raw));
    }),
    { numRuns: 3000 },
  );
});

const validBind: fc.Arbitrary<BindSpec> = fc.oneof(
  fc.record({
    kind: fc.constant('tcp' as const),
    host: fc.oneof(fc.constant(''), fc.ipV4(), fc.ipV6(), fc.domain()),
    port: fc.integer({ min: 0, max: 65535 }),
  }),
  fc.record({
    kind: fc.constant('unix' as const),
    path: fc
      .string({ minLength: 1, maxLength: 100 })
      .filter((p) => !p.includes('\0') && !p.startsWith('@') && p.trim() === p && Buffer.byteLength(p) <= 107),
  }),
  fc.record({
    kind: fc.constant('abstract' as const),
    name: fc
      .string({ minLength: 1, maxLength: 100 })
      .filter((n) => !n.includes('\0') && n.trim() === n && Buffer.byteLength(n) <= 107),
  }),
  fc.record({ kind: fc.constant('fd' as const), fd: fc.integer({ min: 0, max: 999_999_999 }) }),
);

test('accepted binds round-trip through formatBind and parseBind', () => {
  fc.assert(
    fc.property(validBind, (bind) => {
      const parsed = onlyUsageErrors(() => parseBind(formatBind(bind)));
      if (parsed === null) return; // e.g. a random domain label the host rule rejects
      assert.deepEqual(parsed, { ...bind });
      assert.deepEqual(parseBind(formatBind(parsed)), parsed);
    }),
    { numRuns: 3000 },
  );
});

const dir = mkdtempSync(join(tmpdir(), 'prefork-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const names = Object.values(OPTIONS)
  .filter((d) => !d.cliOnly)
  .map((d) => d.name);

test('the config loader: any JSON config file resolves or fails with our usage error', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.dictionary(fc.oneof(fc.constantFrom(...names), fc.string()), fc.jsonValue(), { maxKeys: 6 }),
      fc.dictionary(
        fc.constantFrom(
          ...names.map((x) => `PREFORK_${x.toUpperCase().replace(/-/g, '_')}`),
          'PORT',
          'WEB_CONCURRENCY',
        ),
        fc.string(),
        { maxKeys: 3 },
      ),
      async (file, env) => {
        const path = join(dir, `c${(n += 1)}.json`);
        writeFileSync(path, JSON.stringify({ app: 'x.js', ...file }));
        try {
          const config = await resolveConfig({ argv: { config: path }, env, cwd: dir, stdoutIsTTY: false });
          assert.ok(Object.isFrozen(config));
          assert.ok(config.workers >= 1);
        } catch (err) {
          onlyUsageErrors(() => {
            throw err;
          });
        }
      },
    ),
    { numRuns: 400 },
  );
});
