import { resolve } from 'node:path';
import { usageError } from '../shared/exit-codes.js';
import type { Config } from './options.js';
import { fs } from '../shared/builtins.js';

const { readFileSync } = fs;

/**
 * The certificate and key for HTTPS, as PEM text. The master reads them (before binding, while
 * it still has the rights to: key files are often root-only) and hands the contents to the
 * workers in their settings; a worker never opens the files, so it may run with fewer rights.
 */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

function firstLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0] ?? 'unknown error';
}

function readPem(flag: string, file: string, cwd: string): string {
  try {
    return readFileSync(resolve(cwd, file), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : firstLine(err);
    throw usageError(`cannot read ${flag} ${file}: ${why}`);
  }
}

/**
 * Reads and checks --certfile and --keyfile: each must parse on its own, and the key must belong
 * to the certificate. Every failure is one line naming the file (exit 2). Null without TLS.
 */
export function loadTls(config: Pick<Config, 'certfile' | 'keyfile'>, cwd: string): TlsMaterial | null {
  const { certfile, keyfile } = config;
  if (certfile === null || keyfile === null) return null;
  const cert = readPem('--certfile', certfile, cwd);
  const key = readPem('--keyfile', keyfile, cwd);
  // Loaded only with TLS: crypto and tls cost a master without certificates 1-2 MB and ~5 ms.
  const { X509Certificate, createPrivateKey } = process.getBuiltinModule('node:crypto');
  const { createSecureContext } = process.getBuiltinModule('node:tls');
  try {
    new X509Certificate(cert);
  } catch (err) {
    throw usageError(`invalid --certfile ${certfile}: expected a PEM certificate (${firstLine(err)})`);
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    const encrypted = /passphrase/i.test(firstLine(err)) || /ENCRYPTED/.test(key);
    throw usageError(
      encrypted
        ? `invalid --keyfile ${keyfile}: the key is encrypted; expected an unencrypted PEM private key (keep it readable by root only)`
        : `invalid --keyfile ${keyfile}: expected a PEM private key (${firstLine(err)})`,
    );
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw usageError(`--keyfile ${keyfile} does not belong to --certfile ${certfile} (${firstLine(err)})`);
  }
  return Object.freeze({ cert, key });
}
