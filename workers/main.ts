// The cluster worker entry. Signal handlers go in before anything else loads: without a
// SIGUSR1 handler Node opens its inspector (anyone local could run code in the worker), and a
// worker must never die of a HUP/TTIN/TTOU meant for the master's process group.
process.on('SIGUSR1', () => {});
for (const signal of ['SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const) process.on(signal, () => {});

const { enableCompileCache } = await import('../src/compile-cache.js');
enableCompileCache();
await import('./worker.js');
export {};
