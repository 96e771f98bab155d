import type { BindSpec } from './bind.js';

/**
 * systemd socket activation (sd_listen_fds): the sockets systemd passed us. Only environment
 * reading, with no logger: the options table asks socketActivated() for its default bind.
 */

export interface ActivatedSocket {
  bind: Extract<BindSpec, { kind: 'fd' }>;
  name: string | null;
}

/** First descriptor systemd passes (SD_LISTEN_FDS_START). */
const LISTEN_FDS_START = 3;

/**
 * The sockets systemd passed us (sd_listen_fds): only when LISTEN_PID is our pid. The
 * variables are removed so that workers and anything else we start do not try them again.
 */
export function takeActivatedSockets(env: NodeJS.ProcessEnv, pid = process.pid): ActivatedSocket[] {
  const count = Number(env.LISTEN_FDS);
  const forUs = Number(env.LISTEN_PID) === pid;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isInteger(count) || count <= 0) return [];
  return Array.from({ length: count }, (_, i) => ({
    bind: { kind: 'fd', fd: LISTEN_FDS_START + i },
    name: names[i] && names[i] !== 'unknown' ? names[i]! : null,
  }));
}

/** Whether systemd passed us sockets (without taking them): the default bind then stays off. */
export const socketActivated = (env: NodeJS.ProcessEnv, pid = process.pid): boolean =>
  Number(env.LISTEN_PID) === pid && Number(env.LISTEN_FDS) > 0;
