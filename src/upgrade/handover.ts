import { resolve } from 'node:path';
import { type BindSpec, formatBind } from '../config/bind.js';
import { usageError } from '../shared/exit-codes.js';

/**
 * The hand-over list of a hot upgrade (SIGUSR2): every socket the master owns goes to its
 * successor as an inherited descriptor (fds 3, 4, … in list order), and one env variable says,
 * per descriptor, what it is. The successor opens those descriptors instead of binding again:
 * binding again would collide with its own parent, and a socket closed even for a moment
 * refuses connections.
 *
 * Listening sockets are one role among others: any socket the master owns (the control socket,
 * the metrics bind) joins the list with a role of its own and is claimed by that role on the
 * other side, so a new kind of socket needs no change here.
 */

/** The environment variable; removed as it is read, so workers and later successors never see it. */
export const HANDOVER_ENV = 'PREFORK_UPGRADE';

/** The first descriptor a successor inherits (0-2 are stdio). */
const FIRST_FD = 3;

/**
 * A socket file the chain of masters created. Whichever master stops last, cleanly, removes it
 * (if it is still this very file).
 */
export interface OwnedFile {
  /** Absolute: the successor may run in another directory (a new release). */
  path: string;
  dev: number;
  ino: number;
}

export interface HandoverSocket {
  /**
   * What the socket is for: 'listen' for the workers' sockets; other master-owned sockets name
   * their own role ('control', 'metrics').
   */
  role: string;
  /** The descriptor: the sender's own number in its list, the inherited one after the hand-over. */
  fd: number;
  /**
   * The bind as configured (bindKey), by which the successor recognises it: `127.0.0.1:0` stays
   * `127.0.0.1:0`, whatever port it got.
   */
  bind: string;
  /**
   * A file the chain created: removed by the last master on a clean stop; null for TCP, abstract
   * names and files systemd made.
   */
  owned: OwnedFile | null;
  /** A socket systemd passed to the first master (LISTEN_FDS), by its name: served whatever the config says. */
  systemd: string | null;
}

/**
 * How both sides name a bind: as configured, except that a relative socket path is made
 * absolute (against the directory it was bound in): in a new release's directory the same
 * `unix:app.sock` names another file, which is then bound afresh.
 */
export const bindKey = (bind: BindSpec): string =>
  formatBind(bind.kind === 'unix' ? { kind: 'unix', path: resolve(bind.path) } : bind);

/** Old master: what to pass to spawn() for the successor, and the env value that describes it. */
export function handoverFor(sockets: readonly HandoverSocket[], parent: number): { fds: number[]; env: string } {
  const passed = sockets.map((s, i) => ({ ...s, fd: FIRST_FD + i }));
  return { fds: sockets.map((s) => s.fd), env: JSON.stringify({ parent, sockets: passed }) };
}

const isOwned = (o: unknown): o is OwnedFile =>
  typeof o === 'object' &&
  o !== null &&
  typeof (o as OwnedFile).path === 'string' &&
  Number.isInteger((o as OwnedFile).dev) &&
  Number.isInteger((o as OwnedFile).ino);

function isSocketEntry(s: unknown): s is HandoverSocket {
  if (typeof s !== 'object' || s === null) return false;
  const e = s as HandoverSocket;
  return (
    typeof e.role === 'string' &&
    Number.isInteger(e.fd) &&
    e.fd >= FIRST_FD &&
    typeof e.bind === 'string' &&
    (e.owned === null || isOwned(e.owned)) &&
    (e.systemd === null || typeof e.systemd === 'string')
  );
}

/**
 * New master: the sockets its parent handed over. Each is claimed once, by role and bind; what
 * nobody claims (a bind dropped from the config) is reported by unclaimed().
 */
export class Inheritance {
  readonly #claimed = new Set<HandoverSocket>();

  private constructor(
    /** The old master's pid: it still serves until we tell it we are ready. */
    readonly parent: number,
    readonly sockets: readonly HandoverSocket[],
  ) {}

  /** Null when we were not started by a hot upgrade. A value that does not parse is exit 2. */
  static fromEnv(env: NodeJS.ProcessEnv): Inheritance | null {
    const raw = env[HANDOVER_ENV];
    delete env[HANDOVER_ENV];
    if (raw === undefined || raw === '') return null;
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      data = null;
    }
    const { parent, sockets } = (data ?? {}) as { parent?: unknown; sockets?: unknown };
    if (
      !Number.isInteger(parent) ||
      (parent as number) <= 0 ||
      !Array.isArray(sockets) ||
      !sockets.every(isSocketEntry)
    ) {
      throw usageError(
        `invalid env ${HANDOVER_ENV} ${JSON.stringify(raw.slice(0, 200))}: it is set by prefork for the new master of a hot upgrade; unset it`,
      );
    }
    return new Inheritance(parent as number, sockets);
  }

  /** The socket for this role and bind, if the old master had one; null means: open it yourself. */
  take(role: string, bind: string): HandoverSocket | null {
    const found = this.sockets.find((s) => s.role === role && s.bind === bind && !this.#claimed.has(s));
    if (found === undefined) return null;
    this.#claimed.add(found);
    return found;
  }

  /** The listening sockets systemd passed to the first master of the chain, not yet claimed. */
  activated(): HandoverSocket[] {
    return this.sockets.filter((s) => s.role === 'listen' && s.systemd !== null && !this.#claimed.has(s));
  }

  /** The sockets nobody claimed (to be closed): from now on take() does not return them either. */
  unclaimed(): HandoverSocket[] {
    const left = this.sockets.filter((s) => !this.#claimed.has(s));
    for (const s of left) this.#claimed.add(s);
    return left;
  }
}
