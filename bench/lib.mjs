// What both benchmark scripts need: tools present, a free loopback port, wrk's latency figures.
import { spawnSync } from 'node:child_process';
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Exits 2 with the Debian package to install when a tool is missing. */
export function need(cmd, pkg) {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`bench needs ${cmd}: apt-get install ${pkg}`);
    process.exit(2);
  }
}

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A latency percentile line of `wrk --latency` ("50%", "99%"), in ms. */
export function parseLatency(text, label) {
  const m = new RegExp(`^\\s+${label}\\s+([\\d.]+)(us|ms|s)`, 'm').exec(text);
  return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN;
}
