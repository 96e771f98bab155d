import type { Tinypool } from 'tinypool';
import type { Logger } from '../shared/log.js';
import { installTaskRunner } from './task-runner.js';

/**
 * --threads N: a tinypool pool of N worker threads in each worker process, so CPU-heavy work the
 * app hands over with runTask() leaves the worker's event loop (and its heartbeat) free.
 */
export class Threads {
  /** tinypool is loaded only with --threads: every other worker starts without it. */
  static async start(size: number, taskTimeoutMs: number, log: Logger): Promise<Threads> {
    const { Tinypool } = await import('tinypool');
    // All threads start now: the first heavy request should not pay for a thread's start-up.
    const pool = new Tinypool({ minThreads: size, maxThreads: size, idleTimeout: 60_000 });
    return new Threads(pool, size, taskTimeoutMs, log);
  }

  private constructor(
    private readonly pool: Tinypool,
    readonly size: number,
    private readonly taskTimeoutMs: number,
    private readonly log: Logger,
  ) {
    installTaskRunner({ run: (file, input) => this.#run(file, input) });
    log.info({ event: 'threads', threads: size }, `started ${size} worker thread(s) for runTask()`);
  }

  async #run(file: string, input: unknown): Promise<unknown> {
    if (this.taskTimeoutMs === 0) return this.pool.run(input, { filename: file });
    // Aborting a running task terminates its thread (a spinning task can be stopped no other
    // way); tinypool starts a replacement.
    const signal = AbortSignal.timeout(this.taskTimeoutMs);
    try {
      return await this.pool.run(input, { filename: file, signal });
    } catch (err) {
      if (!signal.aborted) throw err;
      const seconds = this.taskTimeoutMs / 1000;
      this.log.warn(
        { event: 'task-timeout', task: file, seconds },
        `task ${file} cancelled after --task-timeout ${seconds} s`,
      );
      throw Object.assign(new Error(`prefork: task ${file} cancelled after --task-timeout ${seconds} s`), {
        name: 'TaskTimeoutError',
        code: 'ERR_PREFORK_TASK_TIMEOUT',
      });
    }
  }

  /** Once the worker's requests are done: tasks still running are abandoned. */
  async destroy(): Promise<void> {
    installTaskRunner(null);
    await this.pool.destroy();
  }
}
