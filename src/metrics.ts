/** The old path of metrics-server.ts, kept until src/prefork.ts imports the new one; remove then. */
export { METRICS_MAX_CONNECTIONS, METRICS_RENDER_MS, serveMetrics } from './metrics-server.js';
