/**
 * Evaluated first by the CLI (src/cli.ts calls catchEarlySignals() before loading anything
 * else). Until the master installs its signal table, start-up takes a few hundred ms (loading
 * modules, binding), and a signal then would hit Node's defaults: USR1 opens the inspector (anyone
 * local could run code as the master), TERM kills the master before it can clean up, and as PID 1
 * in a container TERM is dropped. So: catch them now, replay later. Only the CLI does this: a
 * program that imports prefork (the programmatic API) keeps its own signal handling until it
 * calls serve().
 */
const EARLY: readonly NodeJS.Signals[] = [
  'SIGTERM',
  'SIGINT',
  'SIGQUIT',
  'SIGHUP',
  'SIGUSR1',
  'SIGUSR2',
  'SIGTTIN',
  'SIGTTOU',
];
/**
 * What arrived, and the handler that records it, on globalThis rather than in module state: the
 * bundled CLI (tools/bundle.ts) has this module in two files, its small entry (which catches) and
 * the body it loads (which takes), and both must see the same list.
 */
const KEY = Symbol.for('prefork.early-signals');
type Early = { received: NodeJS.Signals[]; record: (signal: NodeJS.Signals) => void };
const early = ((globalThis as typeof globalThis & { [KEY]?: Early })[KEY] ??= (() => {
  const received: NodeJS.Signals[] = [];
  return { received, record: (signal: NodeJS.Signals): void => void received.push(signal) };
})());
const { received, record } = early;

export function catchEarlySignals(): void {
  for (const signal of EARLY) process.on(signal, record);
}

/** Removes the early handlers and returns what arrived meanwhile, in order (USR1 stays ignored). */
export function takeEarlySignals(): NodeJS.Signals[] {
  for (const signal of EARLY) process.off(signal, record);
  return received.splice(0).filter((s) => s !== 'SIGUSR1');
}
