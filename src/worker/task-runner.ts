/**
 * Shared between the worker (which installs the runner) and `prefork/worker` (which the app
 * imports): a symbol on globalThis rather than module state, because the app may load prefork
 * from another path than the worker did (its own node_modules), and would get a second copy.
 */
export interface TaskRunner {
  run(file: string, input: unknown): Promise<unknown>;
}

const KEY = Symbol.for('prefork.task-runner');

type WithRunner = typeof globalThis & { [KEY]?: TaskRunner };

export function installTaskRunner(runner: TaskRunner | null): void {
  if (runner === null) delete (globalThis as WithRunner)[KEY];
  else (globalThis as WithRunner)[KEY] = runner;
}

export function currentTaskRunner(): TaskRunner | null {
  return (globalThis as WithRunner)[KEY] ?? null;
}
