import net from 'node:net';
import { type RawHandle, listenOnHandle } from '../shared/internals.js';
import { WORKER_COUNT, isWorkerCount } from '../config/limits.js';
import type { Logger } from '../shared/log.js';
import type { PoolStatus } from './status-snapshot.js';

/**
 * The control socket: `prefork status|reload|scale|stop --control PATH` talk to the master over
 * it. One JSON request line per connection; the master answers with JSON lines — progress lines
 * ({"progress": "1/2 workers replaced"}) and a last one with "done": true.
 */
export type ControlRequest =
  { cmd: 'status' } | { cmd: 'reload' } | { cmd: 'scale'; workers: number } | { cmd: 'stop' };

export type ControlReply =
  | { progress: string }
  | { done: true; ok: true; status?: PoolStatus; message?: string }
  | { done: true; ok: false; error: string };

/** What the control socket may do to the master. */
export interface Controllable {
  snapshot(): PoolStatus;
  reload(): Promise<string | null>;
  scale(workers: number): void;
  stop(mode: 'graceful', why: string): void;
}

const POLL_MS = 100;

function parseRequest(line: string): ControlRequest | string {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return 'request is not JSON';
  }
  const cmd = (req as { cmd?: unknown })?.cmd;
  if (cmd === 'status' || cmd === 'reload' || cmd === 'stop') return { cmd };
  if (cmd === 'scale') {
    const n = (req as { workers?: unknown }).workers;
    return isWorkerCount(n) ? { cmd, workers: n } : `scale needs workers: ${WORKER_COUNT}`;
  }
  return `unknown command ${JSON.stringify(cmd)}: expected status, reload, scale or stop`;
}

/** Reports progress until `check` says done; every line that changed is sent once. */
async function follow(
  send: (r: ControlReply) => void,
  check: () => { progress: string; done: boolean },
): Promise<void> {
  let last = '';
  for (;;) {
    const { progress, done } = check();
    if (progress !== last) send({ progress });
    last = progress;
    if (done) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function handle(master: Controllable, req: ControlRequest, send: (r: ControlReply) => void): Promise<void> {
  switch (req.cmd) {
    case 'status':
      send({ done: true, ok: true, status: master.snapshot() });
      return;
    case 'reload': {
      const error = await master.reload();
      if (error !== null) return send({ done: true, ok: false, error });
      const target = master.snapshot().master.generation;
      await follow(send, () => {
        const s = master.snapshot();
        const replaced = s.workers.filter((w) => w.state === 'ready' && w.generation >= target).length;
        return { progress: `${replaced}/${s.master.workers} workers replaced`, done: !s.master.reloading };
      });
      const s = master.snapshot();
      const replaced = s.workers.filter((w) => w.state === 'ready' && w.generation >= target).length;
      if (replaced < s.master.workers)
        return send({
          done: true,
          ok: false,
          error: `reload stopped: a new worker failed to boot; ${s.master.ready - replaced} old workers keep serving (see the log)`,
        });
      return send({ done: true, ok: true, message: `reload done: ${replaced} workers serving` });
    }
    case 'scale': {
      master.scale(req.workers);
      await follow(send, () => {
        const s = master.snapshot();
        const busy = s.workers.some((w) => w.state !== 'ready');
        return {
          progress: `${s.master.ready}/${req.workers} workers ready`,
          done: s.master.ready === req.workers && !busy,
        };
      });
      return send({ done: true, ok: true, message: `${req.workers} workers serving` });
    }
    case 'stop':
      send({ progress: 'stopping: draining the workers' });
      master.stop('graceful', 'prefork stop (control socket)');
      // The master exits when the drain is over; the client sees the connection close.
      await follow(send, () => {
        const left = master.snapshot().workers.length;
        return { progress: `stopping: ${left} worker(s) still draining`, done: false };
      });
  }
}

export function serveControl(rawHandle: RawHandle, master: Controllable, log: Logger): net.Server {
  const server = net.createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    const send = (reply: ControlReply): void => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
      if ('done' in reply) socket.end();
    };
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) {
        if (buffered.length > 4096) socket.destroy();
        return;
      }
      socket.removeAllListeners('data');
      const req = parseRequest(buffered.slice(0, newline));
      if (typeof req === 'string') return send({ done: true, ok: false, error: req });
      log.info({ event: 'control', cmd: req.cmd }, `control: ${req.cmd}`);
      handle(master, req, send).catch((err: unknown) => send({ done: true, ok: false, error: (err as Error).message }));
    });
  });
  listenOnHandle(server, rawHandle, 16);
  return server;
}
