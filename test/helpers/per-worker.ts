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

/** A free port whose next `count - 1` ports are free too (loopback), for HOST:{BASE+worker}. */
export async function freeBase(count: number): Promise<number> {
  const tryListen = (port: number): Promise<net.Server | null> =>
    new Promise((done) => {
      const s = net.createServer();
      s.once('error', () => done(null));
      s.listen(port, '127.0.0.1', () => done(s));
    });
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const first = await tryListen(0);
    const base = (first!.address() as net.AddressInfo).port;
    const held = [first!];
    for (let i = 1; i < count; i += 1) {
      const s = base + i <= 65535 ? await tryListen(base + i) : null;
      if (s === null) break;
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise((done) => s.close(done))));
    if (held.length === count) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}
