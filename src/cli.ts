#!/usr/bin/env node
// early-signals is evaluated before anything else loads: see why there.
import { catchEarlySignals } from './shared/early-signals.js';
import { enableCompileCache } from './shared/compile-cache.js';
import { CONTROL_COMMANDS, exitOnInterrupt } from './shared/control-commands.js';

const command = process.argv[2] ?? '';
// A control client ends on Ctrl-C at once; the master holds signals until its table is up.
if (CONTROL_COMMANDS.includes(command)) exitOnInterrupt(command);
else catchEarlySignals();
enableCompileCache();
const { main } = await import('./cli/main.js');
await main(process.argv.slice(2));
