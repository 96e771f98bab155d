/**
 * `prefork/worker`: what an app running under prefork can import.
 *
 *   import { runTask } from 'prefork/worker';
 *   const digest = await runTask(new URL('./hash-task.js', import.meta.url), input);
 *
 * A task file's default export (sync or async) gets `input` and returns the result; both travel
 * by structured clone.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { currentTaskRunner } from './task-runner.js';

function toPath(task: URL | string): string {
  if (task instanceof URL) return fileURLToPath(task);
  if (task.startsWith('file:')) return fileURLToPath(task);
  return isAbsolute(task) ? task : resolve(task);
}

/**
 * Runs the task file's default export with `input` on one of the worker's --threads, so the
 * worker's event loop keeps serving meanwhile. Resolves with what the task returns; rejects with
 * what it throws, or with an error whose code is ERR_PREFORK_TASK_TIMEOUT when --task-timeout
 * cancelled it. Without threads (--threads 0, or outside prefork), the task runs on the calling
 * thread: same results, but the event loop is busy meanwhile and --task-timeout does not apply.
 */
export async function runTask<Result = unknown>(task: URL | string, input?: unknown): Promise<Result> {
  const file = toPath(task);
  const runner = currentTaskRunner();
  if (runner !== null) return (await runner.run(file, input)) as Result;
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  const fn =
    typeof mod.default === 'function' ? mod.default : (mod.default as { default?: unknown } | undefined)?.default;
  if (typeof fn !== 'function') throw new TypeError(`prefork: task ${file} has no default export function`);
  return (await (fn as (input: unknown) => unknown)(input)) as Result;
}

/** True in a prefork worker started with --threads N > 0: runTask() uses a thread. */
export function threadsAvailable(): boolean {
  return currentTaskRunner() !== null;
}
