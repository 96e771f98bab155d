#!/usr/bin/env node
// Before anything else loads: a Node process without a SIGUSR1 handler opens its inspector on
// 127.0.0.1:9229 when it gets that signal, letting any local user run code as the master.
process.on('SIGUSR1', () => {});

const { main } = await import('./cli-main.js');
await main(process.argv.slice(2));

export {};
