import { spawn } from 'node:child_process';
import type { Logger } from '../shared/log.js';

/**
 * systemd integration: readiness notification (Type=notify). Socket activation (LISTEN_FDS) is
 * socket-activation.ts: the options table reads it, and must not load a logger to do so.
 *
 * Why notifications go through the `systemd-notify` binary: Node has no AF_UNIX datagram
 * sockets, and NOTIFY_SOCKET is one. The alternatives measured here were worse: `unix-dgram`
 * builds with node-gyp but cannot send to abstract sockets (systemd's default `@/org/...`
 * address), `sd-notify` needs libsystemd-dev and a compiler on every host, and a native addon of
 * our own would need both too. systemd-notify ships with systemd itself, so it is on every host
 * where NOTIFY_SOCKET is set, handles path and abstract sockets, and costs one short process per
 * message (about 17 ms wall, 5 ms CPU here); prefork sends a handful per lifetime plus one
 * WATCHDOG=1 per half watchdog interval.
 *
 * The catch: the message comes from systemd-notify's pid, not the master's, so the unit needs
 * NotifyAccess=all (systemd/prefork.service sets it). We do not pass --no-block: its barrier makes
 * systemd-notify wait until systemd has read the message, which avoids the race in which it exits
 * before systemd can attribute the message to our unit. Messages are sent one at a time, in order.
 */
export class SystemdNotifier {
  #queue: Promise<void> = Promise.resolve();
  #watchdog: NodeJS.Timeout | null = null;
  #warned = false;
  #muted = false;

  private constructor(
    private readonly socket: string,
    private readonly log: Logger,
    private readonly command: string,
  ) {}

  /** A notifier when systemd asked for notifications (NOTIFY_SOCKET), else null. */
  static fromEnv(env: NodeJS.ProcessEnv, log: Logger, command = 'systemd-notify'): SystemdNotifier | null {
    const socket = env.NOTIFY_SOCKET;
    return socket ? new SystemdNotifier(socket, log, command) : null;
  }

  /**
   * Hot upgrade: only the live master speaks for the service. A new master is muted until it
   * takes over (then it sends MAINPID= and READY=1); the old one from the hand-over on, so its
   * own drain does not tell systemd STOPPING=1.
   */
  mute(muted = true): void {
    this.#muted = muted;
  }

  notify(fields: Record<string, string | number>): Promise<void> {
    if (this.#muted) return this.#queue;
    const args = Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`);
    this.#queue = this.#queue.then(() => this.#send(args));
    return this.#queue;
  }

  #send(args: string[]): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn(this.command, args, {
        env: { ...process.env, NOTIFY_SOCKET: this.socket },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const done = (problem: string | null): void => {
        if (problem !== null && !this.#warned) {
          this.#warned = true;
          this.log.warn(
            { event: 'systemd-notify-failed', problem },
            `cannot notify systemd (${problem}); is systemd-notify installed and NotifyAccess=all set?`,
          );
        }
        resolve();
      };
      child.once('error', (err) => done(err.message));
      child.once('exit', (code) => done(code === 0 ? null : `systemd-notify exited ${code}: ${stderr.trim()}`));
    });
  }

  ready(status: string): Promise<void> {
    return this.notify({ READY: 1, MAINPID: process.pid, STATUS: status });
  }

  reloading(): Promise<void> {
    // CLOCK_MONOTONIC in µs, which process.hrtime reads on Linux; systemd 253+ wants it with RELOADING=1.
    return this.notify({
      RELOADING: 1,
      MONOTONIC_USEC: (process.hrtime.bigint() / 1000n).toString(),
      STATUS: 'reloading',
    });
  }

  stopping(): Promise<void> {
    return this.notify({ STOPPING: 1, STATUS: 'stopping' });
  }

  status(status: string): Promise<void> {
    return this.notify({ STATUS: status });
  }

  /** WATCHDOG=1 every half WATCHDOG_USEC, when systemd set a watchdog for us. */
  startWatchdog(env: NodeJS.ProcessEnv): void {
    const usec = Number(env.WATCHDOG_USEC);
    const forPid = env.WATCHDOG_PID;
    if (!Number.isFinite(usec) || usec <= 0 || (forPid !== undefined && Number(forPid) !== process.pid)) return;
    const every = Math.max(1, Math.floor(usec / 2000));
    this.#watchdog = setInterval(() => void this.notify({ WATCHDOG: 1 }), every);
    this.#watchdog.unref();
  }

  /** Resolves once every queued message went out. */
  async close(): Promise<void> {
    if (this.#watchdog !== null) clearInterval(this.#watchdog);
    await this.#queue;
  }
}
