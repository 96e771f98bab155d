import { type ChildProcess, spawn } from 'node:child_process';
import { isAbsolute, resolve, sep } from 'node:path';
import { HANDOVER_ENV, type HandoverSocket, type Inheritance, handoverFor } from './handover.js';
import { timerMs } from '../shared/timers.js';
import type { Logger } from '../shared/log.js';
import { fs } from '../shared/builtins.js';

const { accessSync, constants: fsConstants, statSync } = fs;

/**
 * Hot upgrade (SIGUSR2), both sides.
 *
 * The old master starts a new master from the same command line, read afresh from disk, and
 * hands it every socket it owns as an inherited descriptor (handover.ts). The new master serves
 * from those sockets, starts its workers and, once all of them serve, tells the old master,
 * which hands over the pidfile, drains its own workers and exits 0. Until then the old master
 * serves as before: a new master that does not come up (its code or the app does not load, or it
 * is not ready within --boot-timeout) is stopped, and the failure logged.
 *
 * The two talk over an IPC channel (spawn's 'ipc' stdio) rather than signals or a file: it is
 * tied to this very child (no pid to be reused, no path to race on), it carries the three-step
 * hand-over in order (ready -> take-over -> took-over: the pidfile lock changes hands between
 * the second and third, and under systemd MAINPID= must reach systemd before the old master
 * exits), and it closes by itself when either side dies, which each side treats as such.
 */

type UpgradeMessage = { prefork: 'upgrade'; type: 'ready' | 'take-over' | 'took-over' };

const message = (type: UpgradeMessage['type']): UpgradeMessage => ({ prefork: 'upgrade', type });
const isUpgradeMessage = (m: unknown, type: UpgradeMessage['type']): boolean =>
  typeof m === 'object' &&
  m !== null &&
  (m as UpgradeMessage).prefork === 'upgrade' &&
  (m as UpgradeMessage).type === type;

/** How long the old master, drained, waits for the new one to confirm the take-over before it exits anyway. */
const TOOK_OVER_WAIT_MS = 10_000;

// ── the command line, by the names the operator used ──────────────────────────────────────

const isExecutableFile = (path: string): boolean => {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * The Node binary to start, as the operator named it. process.execPath is the resolved binary
 * (/proc/self/exe): after `current -> releases/43` or an nvm/apt switch it still names the old
 * one. process.argv0 is argv[0] as given: a path (`current/bin/node`, resolved against the start
 * directory's name, $PWD) or a bare name looked up in PATH now, as the shell would.
 */
export function nodeBinary(
  argv0: string,
  cwd: string,
  path: string | undefined,
  fallback: string = process.execPath,
): string {
  if (argv0.includes('/')) {
    const named = resolve(cwd, argv0);
    return isExecutableFile(named) ? named : fallback;
  }
  for (const dir of (path ?? '').split(':')) {
    const candidate = resolve(cwd, dir === '' ? '.' : dir, argv0);
    if (isExecutableFile(candidate)) return candidate;
  }
  return fallback;
}

/**
 * The CLI script to start. Node makes argv[1] absolute against the physical working directory
 * (`node cli.js` in `current -> releases/42` gives releases/42/cli.js); a script under it is
 * taken through the directory's name instead, so the new master runs the new release's code.
 */
export function scriptPath(argv1: string, physicalCwd: string, logicalCwd: string): string {
  if (!isAbsolute(argv1) || logicalCwd === physicalCwd) return argv1;
  const prefix = physicalCwd.endsWith(sep) ? physicalCwd : `${physicalCwd}${sep}`;
  return argv1.startsWith(prefix) ? resolve(logicalCwd, argv1.slice(prefix.length)) : argv1;
}

// ── old master ────────────────────────────────────────────────────────────────────────────

export interface UpgraderDeps {
  log: Logger;
  /** The directory the operator started us in, by its name ($PWD): the new master starts there. */
  cwd: string;
  /** Every socket this master owns, now: listeners, and any other master-owned socket. */
  sockets: () => HandoverSocket[];
  /** The current config's --boot-timeout and --graceful-timeout, in seconds. */
  bootTimeout: () => number;
  gracefulTimeout: () => number;
  /** False while this master is itself a new master that has not taken over yet. */
  live: () => boolean;
  /** The new master serves: hand over the pidfile and systemd, then drain our workers and leave. */
  handOver: (newPid: number) => Promise<void>;
}

type Phase = 'idle' | 'starting' | 'handing-over' | 'handed-over';

export class Upgrader {
  #phase: Phase = 'idle';
  #child: ChildProcess | null = null;
  #bootTimer: NodeJS.Timeout | null = null;
  #tookOver: Promise<void> = Promise.resolve();
  #confirm: () => void = () => {};

  constructor(private readonly deps: UpgraderDeps) {}

  get #log(): Logger {
    return this.deps.log;
  }

  /** True once a new master was told to take over: the pidfile and socket files are its own. */
  get handedOver(): boolean {
    return this.#phase === 'handing-over' || this.#phase === 'handed-over';
  }

  #refuse(reason: string): void {
    this.#log.warn({ event: 'upgrade-refused', reason }, `SIGUSR2 refused: ${reason}`);
  }

  /** SIGUSR2 on a running master. */
  start(): void {
    const refusal = this.#refusal();
    if (refusal !== null) {
      this.#refuse(refusal);
      return;
    }
    const sockets = this.deps.sockets();
    const { fds, env: handover } = handoverFor(sockets, process.pid);
    const file = nodeBinary(process.argv0, this.deps.cwd, process.env.PATH);
    const args = [
      ...process.execArgv,
      scriptPath(process.argv[1] ?? '', process.cwd(), this.deps.cwd),
      ...process.argv.slice(2),
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, PWD: this.deps.cwd, [HANDOVER_ENV]: handover };
    // Ours: the new master starts its own watchdog (systemd checks whoever MAINPID= names).
    delete env.WATCHDOG_PID;
    let child: ChildProcess;
    try {
      child = spawn(file, args, { cwd: this.deps.cwd, env, stdio: ['inherit', 'inherit', 'inherit', ...fds, 'ipc'] });
    } catch (err) {
      this.#log.error(
        { event: 'upgrade-failed', reason: (err as Error).message },
        `hot upgrade failed: cannot start ${file} (${(err as Error).message}); this master keeps serving`,
      );
      return;
    }
    this.#child = child;
    this.#phase = 'starting';
    this.#tookOver = new Promise((done) => (this.#confirm = done));
    this.#log.info(
      {
        event: 'upgrade-started',
        newPid: child.pid,
        command: [file, ...args],
        cwd: this.deps.cwd,
        sockets: sockets.map((s) => s.bind),
      },
      `SIGUSR2: hot upgrade: started a new master (pid ${child.pid}) with ${sockets.length} inherited socket${sockets.length === 1 ? '' : 's'}: ${[file, ...args].join(' ')}`,
    );
    this.#watch(child, file);
  }

  /** Why a SIGUSR2 cannot start an upgrade now, or null. */
  #refusal(): string | null {
    if (process.pid === 1) {
      return "this master is PID 1 (a container's entrypoint): the old master cannot leave without ending the container, so a hot upgrade cannot work here; send SIGHUP for a rolling restart, or restart the container";
    }
    if (this.#phase !== 'idle') {
      return `a hot upgrade is already running (new master pid ${this.#child?.pid})`;
    }
    if (!this.deps.live()) {
      return 'this master is itself the new master of a hot upgrade and has not taken over yet';
    }
    return null;
  }

  /** Follows the new master: ready, took over, failed to start, died, or too slow to boot. */
  #watch(child: ChildProcess, file: string): void {
    child.on('message', (m: unknown) => {
      if (isUpgradeMessage(m, 'ready')) void this.#onReady(child);
      else if (isUpgradeMessage(m, 'took-over')) this.#onTookOver(child);
    });
    // A spawn that fails (binary gone, cwd gone) reports here; so does a send to a child that
    // just died (its exit tells the rest). Always listened to: an unhandled 'error' would throw.
    child.on('error', (err) => this.#fail(child, `cannot start ${file}: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (this.#child !== child) return;
      if (this.#phase === 'starting')
        this.#fail(
          child,
          `it exited with ${signal !== null ? `signal ${signal}` : `code ${code}`} before it was ready`,
        );
      else if (this.#phase === 'handing-over') {
        this.#log.error(
          { event: 'upgrade-successor-died', newPid: child.pid, code, signal },
          `the new master (pid ${child.pid}) died while taking over`,
        );
        this.#onTookOver(child);
      }
    });
    this.#bootTimer = setTimeout(
      () => this.#fail(child, `it was not ready within --boot-timeout ${this.deps.bootTimeout()} s`),
      this.deps.bootTimeout() * 1000,
    );
  }

  /** The new master did not come up: stop it; we serve on, and another SIGUSR2 may try again. */
  #fail(child: ChildProcess, why: string): void {
    if (this.#child !== child || this.#phase !== 'starting') return;
    this.#stopChild(child);
    this.#reset();
    this.#log.error(
      { event: 'upgrade-failed', newPid: child.pid, reason: why },
      `hot upgrade failed: the new master (pid ${child.pid}) ${why}; this master keeps serving`,
    );
  }

  /**
   * TERM (a new master that got as far as serving drains its workers), then KILL if it has not
   * gone after its graceful timeout. `now`: KILL at once, for when we are leaving ourselves and
   * could not wait; a new master that has not taken over owns nothing, and its workers drain by
   * themselves when it dies.
   */
  #stopChild(child: ChildProcess, now = false): void {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    if (now) {
      child.kill('SIGKILL');
      return;
    }
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), timerMs(this.deps.gracefulTimeout(), 1000));
    kill.unref();
    child.once('exit', () => clearTimeout(kill));
    // The channel stays open: a new master that lost it would think us gone and take over.
  }

  #reset(): void {
    if (this.#bootTimer !== null) clearTimeout(this.#bootTimer);
    this.#bootTimer = null;
    this.#child = null;
    this.#phase = 'idle';
    this.#confirm();
  }

  async #onReady(child: ChildProcess): Promise<void> {
    if (this.#child !== child || this.#phase !== 'starting') return;
    if (this.#bootTimer !== null) clearTimeout(this.#bootTimer);
    this.#bootTimer = null;
    this.#phase = 'handing-over';
    this.#log.info(
      { event: 'upgrade-handover', newPid: child.pid },
      `hot upgrade: the new master (pid ${child.pid}) serves; handing over and draining this master's workers`,
    );
    await this.deps.handOver(child.pid ?? 0);
    if (child.connected) child.send(message('take-over'));
  }

  #onTookOver(child: ChildProcess): void {
    if (this.#child !== child || this.#phase !== 'handing-over') return;
    this.#phase = 'handed-over';
    // Nothing more to say; the new master lives on without us.
    if (child.connected) child.disconnect();
    child.unref();
    this.#confirm();
  }

  /**
   * Resolves once the new master confirmed the take-over (or died, or the wait ran out): the old
   * master exits only then, so that systemd has learned the new MAINPID= first.
   */
  async tookOver(): Promise<void> {
    if (this.#phase !== 'handing-over') return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((done) => {
      timer = setTimeout(() => {
        this.#log.warn(
          { event: 'upgrade-unconfirmed', newPid: this.#child?.pid },
          `the new master (pid ${this.#child?.pid}) did not confirm the take-over within ${TOOK_OVER_WAIT_MS / 1000} s; exiting anyway`,
        );
        done();
      }, TOOK_OVER_WAIT_MS);
    });
    await Promise.race([this.#tookOver, timeout]);
    clearTimeout(timer);
  }

  /** This master stops for another reason (TERM, QUIT) while a new one is still starting: that one goes too. */
  abort(why: string): void {
    const child = this.#child;
    if (child === null || this.#phase !== 'starting') return;
    this.#stopChild(child, true);
    this.#reset();
    this.#log.warn(
      { event: 'upgrade-aborted', newPid: child.pid, reason: why },
      `hot upgrade aborted (${why}): stopping the new master (pid ${child.pid})`,
    );
  }
}

// ── new master ────────────────────────────────────────────────────────────────────────────

/**
 * The new master's side: serve from the inherited sockets, and once every worker serves, tell
 * the old master; take over (pidfile, systemd) when it says so, or at once if it is gone.
 */
export class Successor {
  #live = false;
  #parentGone = false;
  #ready = false;
  #takeOver: (() => Promise<void>) | null = null;
  #whenLive: Array<() => void> = [];

  constructor(
    readonly inheritance: Inheritance,
    private readonly log: Logger,
  ) {
    process.on('message', (m: unknown) => {
      if (isUpgradeMessage(m, 'take-over')) void this.#doTakeOver('the old master handed over');
    });
    process.on('disconnect', () => this.#lostParent());
    // Gone already, while we were loading.
    if (process.send === undefined || !process.connected) this.#lostParent();
  }

  #lostParent(): void {
    if (this.#parentGone) return;
    this.#parentGone = true;
    if (this.#live) return;
    this.log.warn(
      { event: 'upgrade-parent-gone', parent: this.parent },
      `the old master (pid ${this.parent}) is gone before the hand-over${this.#ready ? '; taking over now' : '; taking over once ready'}`,
    );
    if (this.#ready) void this.#doTakeOver('the old master is gone');
  }

  get parent(): number {
    return this.inheritance.parent;
  }

  /** True once we took over: until then the old master is the live one (and USR2 is refused here). */
  get live(): boolean {
    return this.#live;
  }

  /** Runs `fn` once we took over (at once if we did). */
  whenLive(fn: () => void): void {
    if (this.#live) fn();
    else this.#whenLive.push(fn);
  }

  /** Every initial worker serves. `takeOver` runs once the old master handed over. */
  ready(takeOver: () => Promise<void>): void {
    if (this.#ready) return;
    this.#ready = true;
    this.#takeOver = takeOver;
    if (this.#parentGone) {
      void this.#doTakeOver('the old master is gone');
      return;
    }
    this.log.info(
      { event: 'upgrade-ready', parent: this.parent },
      `every worker serves: telling the old master (pid ${this.parent}) to hand over`,
    );
    // With a callback: a send on a channel that just closed would otherwise be an uncaught 'error'.
    process.send?.(message('ready'), undefined, undefined, (err: Error | null) => {
      if (err) this.#lostParent();
    });
  }

  async #doTakeOver(why: string): Promise<void> {
    if (this.#live || this.#takeOver === null) return;
    this.#live = true;
    await this.#takeOver();
    for (const fn of this.#whenLive.splice(0)) fn();
    this.log.info(
      { event: 'took-over', from: this.parent, reason: why },
      `hot upgrade done: took over from master ${this.parent} (${why})`,
    );
    if (process.connected) {
      process.send?.(message('took-over'), undefined, undefined, () => {
        if (process.connected) process.disconnect();
      });
    }
  }
}
