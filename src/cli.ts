#!/usr/bin/env node
// early-signals is evaluated before anything else loads: see why there.
import { catchEarlySignals } from './early-signals.js';
import { enableCompileCache } from './compile-cache.js';
import { leanMaster } from './lean-master.js';

catchEarlySignals();
leanMaster();
enableCompileCache();
const { main } = await import('./cli-main.js');
await main(process.argv.slice(2));
