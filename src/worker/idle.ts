/** How many of each kind of pending resource (handles, requests, timers) the process has. */
export type Resources = Map<string, number>;

export function activeResources(): Resources {
  const counts: Resources = new Map();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/**
 * Nothing the app started is pending: no timer, socket, server or I/O request beyond those
 * `baseline` (prefork's own, taken before the app loaded) and `own` (prefork's since) account
 * for. Node itself would exit here: an app in this state will not call listen() later.
 */
export function appIdle(baseline: Resources, own: Readonly<Record<string, number>>): boolean {
  for (const [kind, count] of activeResources()) {
    if (count > (baseline.get(kind) ?? 0) + (own[kind] ?? 0)) return false;
  }
  return true;
}
