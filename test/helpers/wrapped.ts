/**
 * Starts the built CLI under a wrapper command (setpriv to change the master's credentials,
 * unshare to make it PID 1), with the harness's Prefork for logs and signals, and kills what it
 * started when the test ends.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { CLI, type Prefork, ROOT, eventually, track } from './prefork.js';

export const isRoot = process.getuid?.() === 0;

export function startWrapped(
  t: TestContext,
  wrapper: readonly string[],
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Prefork {
  const [command = '', ...wrapperArgs] = wrapper;
  const child = spawn(command, [...wrapperArgs, process.execPath, CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, PREFORK_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Under unshare --pid the logged worker pids are the namespace's; --kill-child tears it down.
  return track(t, child, { workerPidsAreOurs: !wrapper.includes('unshare') });
}

/** The pid (in our namespace) of the one process `parent` forked, e.g. unshare's child. */
export async function onlyChildOf(parent: number): Promise<number> {
  let child = 0;
  await eventually(
    () => {
      try {
        const pids = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean);
        child = Number(pids[0] ?? 0);
      } catch {
        child = 0;
      }
      return child > 0;
    },
    5000,
    `the child of pid ${parent}`,
  );
  return child;
}

/** Uid, Gid and Groups of a process, from /proc/PID/status. */
export function credentials(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number[] =>
    (new RegExp(`^${name}:(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}
