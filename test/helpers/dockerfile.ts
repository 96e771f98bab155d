import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './prefork.js';

/** What the tests read from examples/Dockerfile; Docker itself is not on these machines. */
export interface Dockerfile {
  text: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[];
}

const execForm = (text: string, what: string): string[] => {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`${what}: not exec form`);
  return value as string[];
};

/** Instructions as Docker reads them: continuation lines joined, comments and blank lines left out. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const one = (name: string): string => {
    const found = lines.filter((l) => l.startsWith(`${name} `));
    if (found.length !== 1) throw new Error(`expected one ${name}, found ${found.length}`);
    return found[0]!.slice(name.length + 1);
  };
  const env: Record<string, string> = {};
  for (const l of lines.filter((x) => x.startsWith('ENV '))) {
    for (const pair of l.slice(4).trim().split(/\s+/)) {
      const [k, ...v] = pair.split('=');
      env[k!] = v.join('=');
    }
  }
  const health = /CMD (\[.*\])$/.exec(one('HEALTHCHECK'))?.[1] ?? 'null';
  return {
    text,
    env,
    entrypoint: execForm(one('ENTRYPOINT'), 'ENTRYPOINT'),
    cmd: execForm(one('CMD'), 'CMD'),
    healthcheck: execForm(health, 'HEALTHCHECK CMD'),
  };
}

export const readDockerfile = (): Dockerfile =>
  parseDockerfile(readFileSync(join(ROOT, 'examples/Dockerfile'), 'utf8'));

/**
 * The prefork arguments a container runs: the ENTRYPOINT after `node` and the CLI path, then the
 * CMD, or what replaces it (a pod's args, a Compose command, `docker run IMAGE ARGS`).
 */
export function containerArgs(image: Dockerfile, args: readonly string[] | undefined): string[] {
  return [...image.entrypoint.slice(2), ...(args ?? image.cmd)];
}
