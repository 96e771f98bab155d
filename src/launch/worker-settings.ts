import { heartbeatInterval } from '../master/health.js';
import type { Listener } from '../master/listeners.js';
import type { WorkerSettings } from '../shared/messages.js';
import type { Config } from '../config/options.js';
import type { WorkerIdentity } from '../shared/messages.js';
import type { TlsMaterial } from '../config/tls.js';

export { WORKER_ENTRY } from '../shared/package-paths.js';

/** What every worker is told at its start, derived from the config in force. */
export function workerSettings(
  config: Config,
  cwd: string,
  listeners: readonly Listener[],
  tls: TlsMaterial | null = null,
  user: WorkerIdentity | null = null,
): WorkerSettings {
  return {
    app: config.app ?? '',
    args: config.args,
    cwd,
    factory: config.factory,
    keepAliveTimeout: config.keepAliveTimeout,
    gracefulTimeout: config.gracefulTimeout,
    backlog: config.backlog,
    accessLog: config.accessLog,
    requestDurations: config.metricsBind !== null,
    countResponses:
      config.control !== null || config.metricsBind !== null || config.accessLog || config.limitConcurrency > 0,
    logLevel: config.logLevel,
    logFormat: config.logFormat,
    logFile: config.logFile,
    name: config.name,
    urls: listeners.map((l) => l.url),
    maxRequests: config.maxRequests,
    limitConcurrency: config.limitConcurrency,
    heartbeatMs: heartbeatInterval(config.timeout),
    shutdownDelay: config.shutdownDelay,
    headersTimeoutMs: Math.round(config.headersTimeout * 1000),
    requestTimeoutMs: Math.round(config.requestTimeout * 1000),
    maxHeaderSize: config.maxHeaderSize,
    tls,
    user,
    bootTimeout: config.bootTimeout,
    threads: config.threads,
    taskTimeoutMs: Math.round(config.taskTimeout * 1000),
  };
}
