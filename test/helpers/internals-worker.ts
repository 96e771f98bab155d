import net from 'node:net';
import { type RawHandle, listenOnHandle, surviveMasterLoss } from '../../src/shared/internals.js';

/**
 * A cluster worker for test/unit/internals.test.ts: it does to the internals what a prefork
 * worker does, on the test's command, and reports back over IPC.
 */
type Command = { cmd: 'listen'; name: string | null } | { cmd: 'bind' } | { cmd: 'survive' };

const reply = (m: Record<string, unknown>): void => void process.send?.(m);
const serve = (socket: net.Socket): void => void socket.end(`served by ${process.pid}\n`);

process.on('message', (m: Command, handle: unknown) => {
  if (m.cmd === 'listen') {
    const server = net.createServer(serve);
    server.once('listening', () => reply({ cmd: 'listening', address: server.address() }));
    server.once('error', (err: NodeJS.ErrnoException) => reply({ cmd: 'listen-error', code: err.code ?? err.message }));
    listenOnHandle(server, handle as RawHandle, 16, m.name);
  } else if (m.cmd === 'bind') {
    // What a worker that binds for itself does: node:cluster asks the primary (queryServer).
    const server = net.createServer(serve);
    server.once('listening', () => reply({ cmd: 'bound', address: server.address() }));
    server.once('error', (err: NodeJS.ErrnoException) => reply({ cmd: 'bind-error', code: err.code ?? err.message }));
    server.listen(0, '127.0.0.1');
  } else if (m.cmd === 'survive') {
    surviveMasterLoss();
    reply({ cmd: 'surviving' });
  }
});
reply({ cmd: 'up' });
