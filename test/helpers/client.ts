/**
 * The e2e harness's client side: HTTP requests over TCP or a unix socket, bounded loopback loads,
 * and polling. Re-exported by prefork.ts, which is where tests import it from.
 */
import http from 'node:http';
import type { Target } from './prefork.js';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: <T = Record<string, unknown>>() => T;
}

export interface RequestOptions {
  path?: string;
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string;
  agent?: http.Agent | false;
  timeoutMs?: number;
}

/** One HTTP request over TCP or a unix socket; a new connection unless an agent is given. */
export function request(target: Target, opts: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        ...target,
        path: opts.path ?? '/',
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: opts.agent ?? false,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends requests on fresh connections until `want` distinct pids answered (or gives up). */
export async function distinctPids(target: Target, want: number, maxRequests = 400): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < maxRequests && pids.size < want; i += 1) {
    const reply = await request(target, { headers: { connection: 'close' } });
    pids.add(reply.json<{ pid: number }>().pid);
  }
  return pids;
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Polls until check() is true; rejects after timeoutMs. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export interface LoadResult {
  ok: number;
  failed: number;
  /** Failures by error code or HTTP status. */
  failures: Map<string, number>;
  /** Requests answered per worker pid (the app must answer JSON with a pid). */
  pids: Map<number, number>;
}

export interface LoadOptions {
  /** Stop after this many requests... */
  total?: number;
  /** ...or when this resolves, whichever comes first. */
  until?: Promise<unknown>;
  concurrency?: number;
  keepAlive?: boolean;
  path?: string;
  /** Hard bound so a load can never run away. */
  maxMs?: number;
}

/**
 * A bounded loopback load: `concurrency` clients send requests back to back (keep-alive by
 * default) until `total` were sent, `until` resolved, or `maxMs` passed.
 */
export async function load(target: Target, opts: LoadOptions): Promise<LoadResult> {
  const { total = 100_000, concurrency = 8, keepAlive = true, path = '/', maxMs = 30_000 } = opts;
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: concurrency }) : false;
  const result: LoadResult = { ok: 0, failed: 0, failures: new Map(), pids: new Map() };
  const bump = <K>(m: Map<K, number>, k: K): void => void m.set(k, (m.get(k) ?? 0) + 1);
  let stop = false;
  void opts.until?.then(() => (stop = true));
  const deadline = setTimeout(() => (stop = true), maxMs);
  let sent = 0;
  const client = async (): Promise<void> => {
    while (!stop && sent < total) {
      sent += 1;
      try {
        const reply = await request(target, { path, agent, headers: keepAlive ? {} : { connection: 'close' } });
        if (reply.status !== 200) {
          result.failed += 1;
          bump(result.failures, `HTTP ${reply.status}`);
          continue;
        }
        result.ok += 1;
        bump(result.pids, reply.json<{ pid: number }>().pid);
      } catch (err) {
        result.failed += 1;
        bump(result.failures, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  clearTimeout(deadline);
  if (agent) agent.destroy();
  return result;
}
