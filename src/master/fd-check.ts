import { fs } from '../shared/builtins.js';

const { fstatSync, readFileSync, readlinkSync } = fs;

/**
 * What an inherited descriptor (fd://N) is, when it is not what prefork can serve: a socket in
 * LISTEN state. Node would take any socket: an unbound TCP one gets listen() on every interface
 * at a random port, a connected or datagram one fails later in a worker. Linux tells from
 * /proc/self/fd/N (socket:[INODE]) and the /proc/net tables, which list every socket by inode.
 */

/** Rows of a /proc/net table, split into columns; null when the table cannot be read. */
function rows(table: string): string[][] | null {
  try {
    return readFileSync(`/proc/net/${table}`, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
  } catch {
    return null;
  }
}

/** TCP states from include/net/tcp_states.h that are not LISTEN (0A) and need naming. */
const TCP_CLOSE = '07';

function describeTcp(row: string[]): string | null {
  const state = row[3];
  if (state === '0A') return null;
  if (state !== TCP_CLOSE) return 'a connected socket';
  const port = parseInt(row[1]?.split(':').pop() ?? '0', 16);
  return port === 0 ? 'an unbound socket' : 'a bound socket that is not listening';
}

/** /proc/net/unix: Num RefCount Protocol Flags Type St Inode [Path]; flag 0x10000 is __SO_ACCEPTCON. */
function describeUnix(row: string[]): string | null {
  if ((parseInt(row[3] ?? '0', 16) & 0x10000) !== 0) return null;
  if (row[4] === '0002') return 'a unix datagram socket';
  if (row[5] === '03') return 'a connected socket';
  return row[7] === undefined ? 'an unbound socket' : 'a bound socket that is not listening';
}

/** null when fd is a listening socket (or cannot be told apart: then binding decides); else what it is. */
export function notListening(fd: number): string | null {
  let stats;
  try {
    stats = fstatSync(fd);
  } catch {
    return 'not an open descriptor';
  }
  if (!stats.isSocket()) {
    if (stats.isFIFO()) return 'a pipe';
    if (stats.isFile()) return 'a regular file';
    if (stats.isDirectory()) return 'a directory';
    return stats.isCharacterDevice() ? 'a terminal or device' : 'not a socket';
  }
  let inode: string | undefined;
  try {
    inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
  } catch {
    return null;
  }
  if (inode === undefined) return null;
  const tcp = [...(rows('tcp') ?? []), ...(rows('tcp6') ?? [])].find((r) => r[9] === inode);
  if (tcp !== undefined) return describeTcp(tcp);
  const unix = rows('unix');
  const unixRow = unix?.find((r) => r[6] === inode);
  if (unixRow !== undefined) return describeUnix(unixRow);
  if ([...(rows('udp') ?? []), ...(rows('udp6') ?? [])].some((r) => r[9] === inode)) return 'a UDP socket';
  // Every listening TCP socket is in the tcp tables and every unix one in the unix table; the
  // kernel leaves out TCP sockets that are unbound or bound without listen().
  return unix === null || rows('tcp') === null ? null : 'an unbound socket, or one bound without listen()';
}
