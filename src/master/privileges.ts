import { bindError, usageError } from '../shared/exit-codes.js';
import type { Listener } from './listeners.js';
import type { Logger } from '../shared/log.js';
import type { Config } from '../config/options.js';
import type { WorkerIdentity } from '../shared/messages.js';
import { type GroupEntry, type UserEntry, lookupGroup, lookupUser } from './users.js';
import { fs } from '../shared/builtins.js';

const { lchownSync } = fs;

/**
 * --user, --group and --socket-owner, resolved once by the master before it creates anything.
 * The master stays root (hot upgrade binds again, certificates are read as root); only workers
 * drop privileges, before they load the app (src/worker/drop-privileges.ts).
 */

/** Owner of the socket files; -1 leaves that part as it is (chown's convention). */
export interface SocketOwner {
  readonly uid: number;
  readonly gid: number;
  /** As given, for messages. */
  readonly label: string;
}

export interface Privileges {
  readonly worker: WorkerIdentity | null;
  readonly socketOwner: SocketOwner | null;
}

export interface Lookups {
  user: (spec: string) => UserEntry | null;
  group: (spec: string) => GroupEntry | null;
}

const numeric = (spec: string): number | null => (/^\d+$/.test(spec) ? Number(spec) : null);

/** A uid with no entry is fine (containers run as 10001 all the time); a name must exist. */
function resolveUser(
  spec: string,
  label: string,
  lookups: Lookups,
): { name: string | null; uid: number; gid: number | null } {
  const entry = lookups.user(spec);
  if (entry !== null) return { name: entry.name, uid: entry.uid, gid: entry.gid };
  const uid = numeric(spec);
  if (uid === null)
    throw usageError(
      `unknown user "${spec}" for ${label}: expected a user name or uid known to the system (getent passwd)`,
    );
  return { name: null, uid, gid: null };
}

function resolveGroup(spec: string, label: string, lookups: Lookups): number {
  const entry = lookups.group(spec);
  if (entry !== null) return entry.gid;
  const gid = numeric(spec);
  if (gid === null)
    throw usageError(
      `unknown group "${spec}" for ${label}: expected a group name or gid known to the system (getent group)`,
    );
  return gid;
}

function resolveWorker(
  config: Pick<Config, 'user' | 'group'>,
  runningAs: number,
  lookups: Lookups,
): WorkerIdentity | null {
  if (config.user === null) {
    if (config.group !== null)
      throw usageError(`--group ${config.group} needs --user: a worker that keeps uid 0 can take back any group`);
    return null;
  }
  if (runningAs !== 0)
    throw usageError(
      `--user ${config.user} needs prefork to start as root (it runs as uid ${runningAs}); without --user the workers run as uid ${runningAs} anyway`,
    );
  const user = resolveUser(config.user, '--user', lookups);
  const gid = config.group !== null ? resolveGroup(config.group, '--group', lookups) : user.gid;
  if (gid === null)
    throw usageError(`--user ${config.user} has no entry in the user database, so no primary group: give --group too`);
  return { user: user.name, uid: user.uid, gid };
}

function resolveSocketOwner(spec: string | null, worker: WorkerIdentity | null, lookups: Lookups): SocketOwner | null {
  if (spec === null)
    return worker === null
      ? null
      : { uid: worker.uid, gid: worker.gid, label: `${worker.user ?? worker.uid}:${worker.gid}` };
  const [user = '', group] = spec.split(':');
  return {
    uid: user === '' ? -1 : resolveUser(user, '--socket-owner', lookups).uid,
    gid: group === undefined ? -1 : resolveGroup(group, '--socket-owner', lookups),
    label: spec,
  };
}

/** Every failure is exit 2 with one line; nothing has been created yet when this runs. */
export function resolvePrivileges(
  config: Pick<Config, 'user' | 'group' | 'socketOwner'>,
  runningAs: number = process.getuid?.() ?? -1,
  lookups: Lookups = { user: lookupUser, group: lookupGroup },
): Privileges {
  const worker = resolveWorker(config, runningAs, lookups);
  return { worker, socketOwner: resolveSocketOwner(config.socketOwner, worker, lookups) };
}

/**
 * Hands the socket files this master created to the socket owner, so that nginx (through its
 * group) or the workers' user can connect. The file is created root-owned with --socket-mode,
 * so until the chown it is narrower, never wider. lchown: a symlink swapped in is not followed.
 */
export function chownSockets(listeners: readonly Listener[], owner: SocketOwner | null, log: Logger): void {
  if (owner === null) return;
  for (const { owned } of listeners) {
    if (owned === null) continue;
    try {
      lchownSync(owned.path, owner.uid, owner.gid);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'EPERM'
          ? 'operation not permitted (prefork must start as root to give a file away)'
          : (code ?? String(err));
      throw bindError(`cannot give unix:${owned.path} to ${owner.label}: ${why}`);
    }
    log.debug(
      { event: 'socket-owner', path: owned.path, uid: owner.uid, gid: owner.gid },
      `unix:${owned.path} owned by ${owner.label}`,
    );
  }
}
