#!/usr/bin/env node
// early-signals is evaluated before anything else loads: see why there.
import { catchEarlySignals } from './shared/early-signals.js';
import { enableCompileCache } from './shared/compile-cache.js';
import { leanMaster } from './cli/lean-master.js';

catchEarlySignals();
leanMaster();
enableCompileCache();
const { main } = await import('./cli/main.js');
await main(process.argv.slice(2));
