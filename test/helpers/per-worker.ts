/** Per-worker sockets ({worker} binds): who answers on a slot's socket, and free consecutive ports. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { type Target, app, request } from './prefork.js';

export interface Who {
  worker: string;
  pid: number;
}

export const WORKER_ID_APP = app('worker-id.cjs');

export async function who(target: Target): Promise<Who> {
  const reply = await request(target, { headers: { connection: 'close' } });
  assert.equal(reply.status, 200);
  return reply.json<Who>();
}

export const sock = (dir: string, slot: number): Target => ({ socketPath: join(dir, `web-${slot}.sock`) });

/**
 * A free port whose next `count - 1` ports are free too (loopback), for HOST:{BASE+worker}. Drawn
 * below the kernel's ephemeral range: there, the ports next to a listen(0) port are the ones the
 * other tests' client connections take, and a busy machine finds none free.
 */
export async function freeBase(count: number): Promise<number> {
  const tryListen = (port: number): Promise<net.Server | null> =>
    new Promise((done) => {
      const s = net.createServer();
      s.once('error', () => done(null));
      s.listen(port, '127.0.0.1', () => done(s));
    });
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 20000 + Math.floor(Math.random() * (32000 - 20000 - count));
    const held: net.Server[] = [];
    for (let i = 0; i < count; i += 1) {
      const s = await tryListen(base + i);
      if (s === null) break;
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise((done) => s.close(done))));
    if (held.length === count) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}
