import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, describe, test } from 'node:test';
import { availableCpus, cpusFromCpuMax } from '../../src/config/cpus.js';

describe('cpusFromCpuMax', () => {
  const cases: [string, number | null][] = [
    ['max 100000', null],
    ['max 100000\n', null],
    ['max', null],
    ['100000 100000', 1],
    ['150000 100000', 2],
    ['50000 100000', 1],
    ['1000 100000', 1],
    ['200000 100000\n', 2],
    ['400000 100000', 4],
    ['400001 100000', 5],
    ['50000 50000', 1],
    ['  300000   100000  ', 3],
    ['200000', 2],
    ['', null],
    ['garbage', null],
    ['abc def', null],
    ['0 100000', null],
    ['-100000 100000', null],
    ['100000 0', null],
    ['100000 abc', null],
  ];
  for (const [line, expected] of cases) {
    test(`${JSON.stringify(line)} -> ${String(expected)}`, () => {
      assert.equal(cpusFromCpuMax(line), expected);
    });
  }
});

/** This process's cgroup v2 path ("0::/a/b" -> "/a/b"), or null on a cgroup v1-only host. */
function ownCgroupPath(): string | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? null : line.slice(3).trim();
}

/** A temp dir that mirrors our own cgroup path; returns [root, leaf]. */
function fakeCgroupTree(t: TestContext, own: string): [string, string] {
  const root = mkdtempSync(join(tmpdir(), 'prefork-cgroup-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const leaf = join(root, own);
  mkdirSync(leaf, { recursive: true });
  return [root, leaf];
}

describe('availableCpus', () => {
  test('is an integer from 1 to os.availableParallelism()', () => {
    const n = availableCpus();
    assert.ok(Number.isInteger(n), `not an integer: ${n}`);
    assert.ok(n >= 1, `below 1: ${n}`);
    assert.ok(n <= availableParallelism(), `${n} > availableParallelism ${availableParallelism()}`);
  });

  test('a cgroup root without cpu.max files leaves the affinity count', (t) => {
    const own = ownCgroupPath();
    if (own === null) return t.skip('no cgroup v2 line in /proc/self/cgroup');
    const [root] = fakeCgroupTree(t, own);
    assert.equal(availableCpus(root), availableParallelism());
  });

  test('cpu.max "100000 100000" at our own cgroup gives 1', (t) => {
    const own = ownCgroupPath();
    if (own === null) return t.skip('no cgroup v2 line in /proc/self/cgroup');
    const [root, leaf] = fakeCgroupTree(t, own);
    writeFileSync(join(leaf, 'cpu.max'), '100000 100000\n');
    assert.equal(availableCpus(root), 1);
  });

  test('"max" at our own cgroup is no limit', (t) => {
    const own = ownCgroupPath();
    if (own === null) return t.skip('no cgroup v2 line in /proc/self/cgroup');
    const [root, leaf] = fakeCgroupTree(t, own);
    writeFileSync(join(leaf, 'cpu.max'), 'max 100000\n');
    assert.equal(availableCpus(root), availableParallelism());
  });

  test('a quota above the affinity count does not raise it', (t) => {
    const own = ownCgroupPath();
    if (own === null) return t.skip('no cgroup v2 line in /proc/self/cgroup');
    const [root, leaf] = fakeCgroupTree(t, own);
    writeFileSync(join(leaf, 'cpu.max'), `${(availableParallelism() + 8) * 100000} 100000\n`);
    assert.equal(availableCpus(root), availableParallelism());
  });

  test('the tightest cpu.max between our cgroup and the root wins', (t) => {
    const own = '/system.slice/app.service';
    const [root, leaf] = fakeCgroupTree(t, own);
    writeFileSync(join(leaf, 'cpu.max'), 'max 100000\n');
    writeFileSync(join(root, 'system.slice', 'cpu.max'), '100000 100000\n');
    assert.equal(availableCpus(root, own), 1);
    writeFileSync(join(leaf, 'cpu.max'), '300000 100000\n');
    assert.equal(availableCpus(root, own), 1, 'a looser leaf does not override a tighter parent');
  });

  test('a cpu.max outside the cgroup root is not read', (t) => {
    const own = ownCgroupPath();
    if (own === null) return t.skip('no cgroup v2 line in /proc/self/cgroup');
    const [outer] = fakeCgroupTree(t, '/');
    const root = join(outer, 'cg');
    mkdirSync(join(root, own), { recursive: true });
    writeFileSync(join(outer, 'cpu.max'), '100000 100000\n');
    assert.equal(availableCpus(root), availableParallelism());
  });
});
