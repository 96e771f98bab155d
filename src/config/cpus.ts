import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fs } from '../shared/builtins.js';

const { readFileSync } = fs;

/**
 * CPUs from a cgroup v2 cpu.max line ("QUOTA PERIOD" or "max PERIOD"); null when unlimited.
 * A quota of 1.5 CPUs gives 2: a worker that is throttled half the time still serves.
 */
export function cpusFromCpuMax(line: string): number | null {
  const [quota, period] = line.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return null;
  const q = Number(quota);
  const p = Number(period ?? 100000);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return null;
  return Math.max(1, Math.ceil(q / p));
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The cgroup v2 path of this process ("0::/system.slice/app.service"), or null on cgroup v1. */
function ownCgroup(procSelfCgroup: string | null): string | null {
  const line = procSelfCgroup?.split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3).trim() : null;
}

/**
 * CPUs this process may use. Node 20's os.availableParallelism() sees the CPU affinity mask but
 * not the cgroup quota, so a 1-CPU container on a 64-core host would start 64 workers. The
 * tightest cpu.max from our cgroup up to the root wins.
 */
export function availableCpus(cgroupRoot = '/sys/fs/cgroup', own = ownCgroup(readOrNull('/proc/self/cgroup'))): number {
  const byAffinity = availableParallelism();
  if (own === null) return byAffinity;
  let limit = byAffinity;
  for (let dir = join(cgroupRoot, own); dir.startsWith(cgroupRoot); dir = dirname(dir)) {
    const cpus = cpusFromCpuMax(readOrNull(join(dir, 'cpu.max')) ?? 'max');
    if (cpus !== null) limit = Math.min(limit, cpus);
    if (dir === cgroupRoot) break;
  }
  return limit;
}
