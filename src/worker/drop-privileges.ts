import type { WorkerIdentity } from '../shared/messages.js';

/** In Node since 0.9 (POSIX only), missing from @types/node. */
const posix = process as unknown as { initgroups?: (user: string | number, extraGroup: string | number) => void };

/**
 * Worker side of --user/--group, run before the app is imported. Order matters: the groups go
 * first (setgroups and setgid need root), and initgroups replaces the supplementary groups the
 * master inherited as root (0, adm, docker, ...) with the user's own, so none of root's survive.
 * setuid last: after it there is no way back.
 */
export function dropPrivileges(to: WorkerIdentity): void {
  if (to.user !== null && posix.initgroups !== undefined) posix.initgroups(to.user, to.gid);
  else process.setgroups?.([to.gid]);
  process.setgid?.(to.gid);
  process.setuid?.(to.uid);
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid !== to.uid || process.geteuid?.() !== to.uid || gid !== to.gid || process.getegid?.() !== to.gid) {
    throw new Error(`could not drop privileges to uid ${to.uid} gid ${to.gid} (now uid ${uid} gid ${gid})`);
  }
}
