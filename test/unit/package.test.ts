import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/prefork.js';

/**
 * What `npm pack` puts in the tarball an app installs (README: "Add prefork to your app"). Listed
 * without running the build (--ignore-scripts): `npm test` has just built dist/.
 */
function packed(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: ROOT, encoding: 'utf8' });
  const [pack] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
  return (pack?.files ?? []).map((f) => f.path);
}

test('npm pack ships the built CLI and worker entry, their types, the systemd units, the examples and a LICENSE', () => {
  const files = new Set(packed());
  for (const wanted of [
    'dist/bin/prefork.js',
    'dist/bin/prefork-main.js',
    'dist/bin/worker.js',
    'dist/bin/worker-runtime.js',
    'dist/src/cli.js',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/worker/main.js',
    'dist/src/worker/api.js',
    'dist/src/worker/api.d.ts',
    'systemd/prefork.service',
    'systemd/prefork.socket',
    'examples/hello.js',
    'examples/Dockerfile',
    'LICENSE',
    'README.md',
    'package.json',
  ]) {
    assert.ok(files.has(wanted), `the tarball lacks ${wanted}`);
  }
});

test('npm pack ships no tests, and every source map points at a file that is shipped', () => {
  const files = packed();
  assert.deepEqual(
    files.filter(
      (f) =>
        f.startsWith('test/') || f.startsWith('dist/test/') || f.startsWith('tools/') || f.startsWith('dist/tools/'),
    ),
    [],
  );
  const shipped = new Set(files);
  const missing: string[] = [];
  for (const map of files.filter((f) => f.endsWith('.js.map'))) {
    const { sources } = JSON.parse(execFileSync('cat', [map], { cwd: ROOT, encoding: 'utf8' })) as {
      sources: string[];
    };
    const dir = map.split('/').slice(0, -1);
    for (const source of sources) {
      const parts = [...dir];
      for (const seg of source.split('/')) {
        if (seg === '..') parts.pop();
        else if (seg !== '.') parts.push(seg);
      }
      if (!shipped.has(parts.join('/'))) missing.push(`${map} -> ${parts.join('/')}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('the bundled CLI (package.json "bin") and the unbundled dist/src/cli.js run alike', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    bin: { prefork: string };
    version: string;
  };
  assert.equal(pkg.bin.prefork, 'dist/bin/prefork.js');
  const run = (cli: string, args: string[]): string =>
    execFileSync(process.execPath, [cli, ...args], { cwd: ROOT, encoding: 'utf8' }).trim();
  for (const cli of [pkg.bin.prefork, 'dist/src/cli.js']) {
    assert.equal(run(cli, ['--version']), pkg.version, cli);
    assert.match(run(cli, ['--check-config', 'examples/hello.js']), /"workers"/, cli);
  }
});

test('the bundled files import nothing statically: every package and builtin loads where the code that uses it runs', () => {
  const dir = join(ROOT, 'dist/bin');
  const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
  assert.deepEqual(files.sort(), ['prefork-main.js', 'prefork.js', 'worker-runtime.js', 'worker.js']);
  for (const file of files) {
    // A static import is evaluated at every start, also for code that runs only on demand (yargs for --help).
    const imports = readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter((line) => /^import\s/.test(line));
    assert.deepEqual(imports, [], file);
  }
});
