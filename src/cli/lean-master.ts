/**
 * The master runs no hot code: it binds, forks, and then hears a heartbeat a second per worker.
 * V8's optimizing compilers would only optimize start-up code that runs once, and paging their
 * own machine code in costs the master ~4 MB of RSS (measured under load: 53.4 -> 49.6 MB, equal
 * to bare node:cluster's primary in the pages it maps from the node binary). The interpreter and
 * the Sparkplug baseline compiler stay. Workers are unaffected: a runtime flag is not part of
 * process.execArgv, which cluster.fork passes on. Only the CLI calls this: serve() runs inside
 * the user's program, whose flags are its own.
 *
 * The young generation stays at its initial size: V8 grows it after the scavenges of start-up
 * (loading modules allocates a lot once), and the master then keeps 1-1.5 MB of semi-space it never
 * fills again (measured on Node 20, 22 and 24: 3.2-3.7 MB of new space against 2.1 MB). Later it
 * only hears small messages, which a small young generation collects just as cheaply.
 *
 * Called once the first workers are forked (cli/main.ts): node:v8 takes ~2 ms to load, which
 * would otherwise delay the first request, and by then start-up's code has run once, unoptimized.
 */
export function leanMaster(): void {
  const { setFlagsFromString } = process.getBuiltinModule('node:v8');
  setFlagsFromString('--no-turbofan');
  setFlagsFromString('--no-maglev');
  setFlagsFromString('--semi-space-growth-factor=1');
}
