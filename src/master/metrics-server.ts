import type httpTypes from 'node:http';

/** Not `import http`: an ESM import of node:http loads undici too (see worker/server-options.ts). */
const http: typeof httpTypes = process.getBuiltinModule('node:http');
import { type RawHandle, listenOnHandle } from '../shared/internals.js';
import { renderMetrics } from './metrics-text.js';
import type { RequestStats } from '../shared/request-stats.js';
import type { PoolStatus } from './status-snapshot.js';
import { PROBE_PATHS, type ProbeState, probeReply } from './probes.js';

/** Connections the metrics server holds at once: a scraper needs one; beyond, new ones are closed unread. */
export const METRICS_MAX_CONNECTIONS = 16;
/** How long one rendered body answers every request: a burst of scrapes costs the master one render. */
export const METRICS_RENDER_MS = 250;

/**
 * The master's own /metrics endpoint and probes (probes.ts) on --metrics-bind; never on the
 * workers' sockets. It must not cost the master much whoever calls it how often: a bounded number
 * of connections, each closed after its response (no idle keep-alive ones piling up), short
 * timeouts for the slow ones, and one body rendered per METRICS_RENDER_MS shared by every request
 * in between (probes skip it: they read three numbers).
 */
export function serveMetrics(
  handle: RawHandle,
  read: () => { status: PoolStatus; totals: RequestStats },
  probe: () => ProbeState,
): httpTypes.Server {
  let rendered: { body: Buffer; at: number } | null = null;
  const body = (now: number): Buffer => {
    if (rendered === null || now - rendered.at >= METRICS_RENDER_MS) {
      const { status, totals } = read();
      rendered = { body: Buffer.from(renderMetrics(status, totals)), at: now };
    }
    return rendered.body;
  };
  const limits = {
    headersTimeout: 5000,
    requestTimeout: 10_000,
    connectionsCheckingInterval: 1000,
    maxHeaderSize: 8192,
  };
  const server = http.createServer(limits, (req, res) => {
    res.shouldKeepAlive = false;
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (PROBE_PATHS.has(path)) {
      // Never the render cache's: three numbers read afresh, so a probe sees a stop at once.
      const { status, body } = probeReply(path as '/livez' | '/readyz', probe());
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      res.writeHead(status, { ...headers, 'cache-control': 'no-store' }).end(body);
      return;
    }
    if (req.url !== '/metrics' && req.url !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics, /livez, /readyz\n');
      return;
    }
    const text = body(Date.now());
    const type = 'text/plain; version=0.0.4; charset=utf-8';
    res.writeHead(200, { 'content-type': type, 'content-length': text.length }).end(text);
  });
  server.maxConnections = METRICS_MAX_CONNECTIONS;
  // headersTimeout spares a connection that never sends a byte: it would hold its slot for good.
  server.setTimeout(limits.headersTimeout);
  listenOnHandle(server, handle, 64);
  return server;
}
