import { execFileSync } from 'node:child_process';
import { fs } from '../shared/builtins.js';

const { readFileSync } = fs;

/**
 * User and group lookup by name or numeric id. `getent` asks NSS, so users from LDAP, sssd or
 * systemd's dynamic users resolve as they do for `id`; where there is no getent (some minimal
 * images) we read /etc/passwd and /etc/group ourselves.
 */

export interface UserEntry {
  readonly name: string;
  readonly uid: number;
  /** Primary group. */
  readonly gid: number;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
}

type Database = 'passwd' | 'group';

/** The entry's colon-separated fields, or null when there is none. */
function getent(db: Database, key: string): string[] | null {
  try {
    const out = execFileSync('getent', [db, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const line = out.split('\n')[0] ?? '';
    return line === '' ? null : line.split(':');
  } catch (err) {
    // getent exits 2 for "no such key"; only a missing binary sends us to the files.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return null;
    return fromFile(db, key);
  }
}

/** Fields of the first line of /etc/passwd or /etc/group whose name (or id, for a number) is key. */
export function fromFile(
  db: Database,
  key: string,
  text: string = readFileSync(`/etc/${db}`, 'utf8'),
): string[] | null {
  const byId = /^\d+$/.test(key);
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if ((byId ? fields[2] : fields[0]) === key) return fields;
  }
  return null;
}

const id = (text: string | undefined): number | null =>
  text !== undefined && /^\d+$/.test(text) ? Number(text) : null;

export function lookupUser(spec: string, lookup: typeof getent = getent): UserEntry | null {
  const fields = lookup('passwd', spec);
  const [name, , uid, gid] = fields ?? [];
  if (name === undefined || id(uid) === null || id(gid) === null) return null;
  return { name, uid: id(uid)!, gid: id(gid)! };
}

export function lookupGroup(spec: string, lookup: typeof getent = getent): GroupEntry | null {
  const fields = lookup('group', spec);
  const [name, , gid] = fields ?? [];
  if (name === undefined || id(gid) === null) return null;
  return { name, gid: id(gid)! };
}
