import module from 'node:module';

/**
 * Node 22.1+ can cache compiled bytecode on disk (module.enableCompileCache): every worker and
 * every restart then skips most of the parsing of prefork, pino and the app. Node 20 has no such
 * API; there this does nothing. NODE_DISABLE_COMPILE_CACHE=1 turns it off, as Node documents.
 */
export function enableCompileCache(): void {
  const enable = (module as unknown as { enableCompileCache?: () => unknown }).enableCompileCache;
  try {
    enable?.();
  } catch {
    /* a cache directory we cannot write only costs speed */
  }
}
