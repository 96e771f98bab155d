/**
 * The control client's commands, and how it ends on Ctrl-C. Kept free of imports: the CLI entry
 * reads it before it loads anything else, so a Ctrl-C while the client still loads (seconds on a
 * busy machine) ends it as promptly as one while it waits for the master.
 */
export const CONTROL_COMMANDS: readonly string[] = ['status', 'reload', 'scale', 'stop'];

/**
 * A client that INT (Ctrl-C) or TERM ends exits at once with 128 + the signal number, as shells
 * report it: 130 and 143. The master is not told: it carries on (a reload or scale completes, a
 * stop still drains).
 */
export const INTERRUPTED: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 };

export function interruptedLine(signal: NodeJS.Signals, cmd: string): string {
  const goesOn = cmd === 'status' ? '' : `; the master carries on with the ${cmd}`;
  return `prefork: interrupted (${signal}) while waiting for the master${goesOn}\n`;
}

/** From the first line of the CLI on: INT or TERM ends the client with its line and code. */
export function exitOnInterrupt(cmd: string): void {
  for (const [signal, code] of Object.entries(INTERRUPTED)) {
    process.once(signal, () => {
      process.stderr.write(interruptedLine(signal as NodeJS.Signals, cmd));
      process.exit(code);
    });
  }
}
