import net from 'node:net';
import type { ControlReply, ControlRequest } from '../master/control.js';
import { ExitCode, usageError } from '../shared/exit-codes.js';
import { WORKER_COUNT, isWorkerCount } from '../config/limits.js';
import { OPTIONS, envName } from '../config/options.js';
import { formatStatus } from '../master/status-snapshot.js';
import { checkOptionNames } from './argv.js';

/** The master's own option, so both read the same env variable. */
const CONTROL_ENV = envName(OPTIONS.control);

interface ClientArgs {
  request: ControlRequest;
  control: string;
  json: boolean;
}

/** `prefork status|reload|scale N|stop --control PATH [--json]`: yargs wiring only (loaded only here). */
export async function parseClientArgv(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<ClientArgs> {
  checkOptionNames(argv, ['control', 'json', 'help', 'version'], new Set(['h']));
  const { default: yargs } = await import('yargs');
  const parsed = yargs([...argv])
    .scriptName('prefork')
    .usage(
      'prefork status|reload|scale N|stop --control PATH\n\nTalk to a running prefork master over its --control socket.',
    )
    .strict()
    .help()
    .fail((message: string | null, err: Error | undefined) => {
      throw usageError((message ?? err?.message ?? 'invalid usage').split('\n')[0] ?? 'invalid usage');
    })
    .command('status', 'print the master and every worker (--json for JSON)')
    .command('reload', 'rolling restart, as SIGHUP; prints progress until done')
    .command('scale <workers>', 'change the number of workers; prints progress until done')
    .command('stop', 'graceful stop, as SIGTERM; waits until the master has left')
    .demandCommand(1)
    .option('control', { type: 'string', requiresArg: true, describe: `the control socket path [env ${CONTROL_ENV}]` })
    .option('json', { type: 'boolean', describe: 'status as JSON' })
    .parseSync() as { _: Array<string | number>; control?: string; json?: boolean; workers?: unknown };
  const cmd = String(parsed._[0]);
  const control = parsed.control ?? env[CONTROL_ENV];
  if (!control)
    throw usageError(
      `${cmd} needs --control PATH (or env ${CONTROL_ENV}): the socket the master serves with --control`,
    );
  let request: ControlRequest;
  if (cmd === 'scale') {
    const n = Number(parsed.workers);
    if (!isWorkerCount(n))
      throw usageError(`invalid workers ${JSON.stringify(String(parsed.workers))}: expected ${WORKER_COUNT}`);
    request = { cmd: 'scale', workers: n };
  } else {
    request = { cmd: cmd as 'status' | 'reload' | 'stop' };
  }
  return { request, control: control.replace(/^unix:(\/\/)?/, ''), json: parsed.json === true };
}

/** Sends one request, prints progress as it comes, resolves with the exit code. */
export function runClient(
  { request, control, json }: ClientArgs,
  out = process.stdout,
  err = process.stderr,
): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.connect(control);
    let buffered = '';
    let finished = false;
    const finish = (code: number): void => {
      finished = true;
      resolve(code);
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (finished) return;
      err.write(
        `prefork: cannot reach the master at ${control}: ${e.code === 'ENOENT' ? 'no such socket (is prefork running with --control?)' : e.code === 'ECONNREFUSED' ? 'nobody is listening (the master is gone)' : (e.code ?? e.message)}\n`,
      );
      finish(ExitCode.unexpected);
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const reply = JSON.parse(buffered.slice(0, newline)) as ControlReply;
        buffered = buffered.slice(newline + 1);
        if ('progress' in reply) {
          out.write(`${reply.progress}\n`);
        } else if (!reply.ok) {
          err.write(`prefork: ${reply.error}\n`);
          finish(ExitCode.unexpected);
        } else {
          if (reply.status) out.write(json ? `${JSON.stringify(reply.status, null, 2)}\n` : formatStatus(reply.status));
          else if (reply.message) out.write(`${reply.message}\n`);
          finish(ExitCode.ok);
        }
      }
    });
    // After `stop` the master closes the connection when it exits: that is the end of the drain.
    socket.on('close', () => {
      if (finished) return;
      if (request.cmd === 'stop') {
        out.write('stopped\n');
        finish(ExitCode.ok);
      } else {
        err.write('prefork: the master closed the control connection without an answer\n');
        finish(ExitCode.unexpected);
      }
    });
  });
}
