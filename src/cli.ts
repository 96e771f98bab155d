#!/usr/bin/env node
// early-signals is evaluated before anything else loads: see why there.
import './early-signals.js';

const { main } = await import('./cli-main.js');
await main(process.argv.slice(2));
