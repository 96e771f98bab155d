/**
 * Kubernetes-style probes on the master's admin listener (--metrics-bind / --admin-bind). Both
 * read three numbers the master keeps anyway: no request goes to the app, nothing is rendered.
 */

/** What a probe reads from the master. */
export interface ProbeState {
  /** 'handed-over': a hot upgrade's new master serves the pool; this one only drains its own workers. */
  state: 'starting' | 'running' | 'stopping' | 'handed-over';
  /** Workers ready to serve now. */
  serving: number;
  /** Workers the pool should have. */
  desired: number;
}

export interface ProbeReply {
  status: 200 | 503;
  body: string;
}

export const PROBE_PATHS: ReadonlySet<string> = new Set(['/livez', '/readyz']);

/**
 * /livez: 200 while the master's loop answers at all (whatever its state: a stopping master is
 * alive, and a restart would only cut its drain). /readyz: 200 while the master runs with a
 * serving worker, or once it handed over to a new master (that one serves the pool, and the
 * shared admin socket may still bring us a probe); 503 while starting, from the moment a stop
 * begins (--shutdown-delay included: the endpoints drop the pod before the drain), and while no
 * worker serves.
 */
export function probeReply(path: '/livez' | '/readyz', s: ProbeState): ProbeReply {
  const ok = path === '/livez' || s.state === 'handed-over' || (s.state === 'running' && s.serving > 0);
  const body = JSON.stringify({ ok, state: s.state, serving: s.serving, desired: s.desired });
  return { status: ok ? 200 : 503, body: `${body}\n` };
}
