// The cluster worker entry. Signal handlers go in before anything else loads: without a
// SIGUSR1 handler Node opens its inspector (anyone local could run code in the worker), and a
// worker must never die of a signal meant for the master, sent to it by mistake or to the whole
// process group (`systemctl kill` without --kill-whom=main): HUP, TTIN, TTOU, USR2 (Node's default
// for USR2 is to exit) and QUIT (the master's immediate stop kills the workers itself; Node's
// default would dump core). TERM and INT drain (worker.ts). WINCH is ignored by default.
process.on('SIGUSR1', () => {});
for (const signal of ['SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGUSR2', 'SIGQUIT'] as const) process.on(signal, () => {});

const { enableCompileCache } = await import('../src/compile-cache.js');
enableCompileCache();
await import('./worker.js');
export {};
