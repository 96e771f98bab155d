// The cluster worker entry. Signal handlers go in before anything else loads: without a
// SIGUSR1 handler Node opens its inspector (anyone local could run code in the worker), and a
// worker must never die of a signal meant for the master, sent to it by mistake or to the whole
// process group (`systemctl kill` without --kill-whom=main): HUP, TTIN, TTOU, USR2 (Node's default
// for USR2 is to exit) and QUIT (the master's immediate stop kills the workers itself; Node's
// default would dump core). TERM and INT drain (WorkerProcess#stopSignal). WINCH is ignored by default.
process.on('SIGUSR1', () => {});
for (const signal of ['SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGUSR2', 'SIGQUIT'] as const) process.on(signal, () => {});

const { enableCompileCache } = await import('../shared/compile-cache.js');
enableCompileCache();
// Ask for the settings and sockets first, so that the master's answer travels while this worker
// loads its own modules; what arrives meanwhile waits here. No app code runs before both are in.
const early: [unknown, unknown][] = [];
const hold = (message: unknown, handle: unknown): number => early.push([message, handle]);
process.on('message', hold);
const { sendToMaster } = await import('./master-channel.js');
sendToMaster({ type: 'hello' });
const { surviveMasterLoss, isMasterMessage, WorkerProcess } = await import('./runtime.js');

const worker = new WorkerProcess(Number(process.env.PREFORK_WORKER_ID ?? 0));
surviveMasterLoss();
const route = (message: unknown, handle: unknown): void => {
  if (isMasterMessage(message)) worker.onMessage(message, handle);
};
process.on('message', route);
process.off('message', hold);
for (const [message, handle] of early.splice(0)) route(message, handle);
process.on('disconnect', () => worker.masterGone());
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => worker.stopSignal(signal));
// The no-op SIGUSR1 handler above stays installed (it kept the inspector closed until now).
process.on('SIGUSR1', () => worker.reopenLogs('SIGUSR1'));
process.on('uncaughtException', (err) => worker.crashed(err));
export {};
