import type { FSWatcher } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import type { Listener } from './listeners.js';
import type { Logger } from '../shared/log.js';
import type { Config } from '../config/options.js';
import { resolveAppPath } from '../shared/app-path.js';
import { fs } from '../shared/builtins.js';

const { readdirSync, statSync, watch } = fs;

/**
 * --reload, for development: watch the app's directory and do a rolling restart (SIGHUP's path)
 * when a file changes. Changes within DEBOUNCE_MS of each other (an editor's save, a build
 * writing many files) make one restart.
 *
 * Each directory is watched on its own, skipping node_modules and hidden ones (.git, editors'
 * swap files): fs.watch's `recursive` would also watch every directory under node_modules
 * (on Linux, one inotify watch each: thousands) only for us to ignore what they report.
 */
const DEBOUNCE_MS = 300;

const skipped = (name: string): boolean => name === 'node_modules' || name.startsWith('.');

export interface ReloadWatcher {
  close(): void;
}

// Long because the watcher, its debounce and the files to ignore are one closure's shared state.
export function watchForReload(
  config: Config,
  cwd: string,
  listeners: readonly Listener[],
  reload: () => void,
  log: Logger,
): ReloadWatcher {
  const root = dirname(resolveAppPath(config.app ?? '', cwd));
  // Files prefork itself writes there would otherwise restart the workers forever.
  const own = new Set<string>();
  if (config.logFile !== null) own.add(config.logFile);
  if (config.pidfile !== null) own.add(resolve(cwd, config.pidfile));
  for (const l of listeners) if (l.bind.kind === 'unix') own.add(resolve(cwd, l.bind.path));
  // Per-worker socket files, also those of slots added later (TTIN).
  const perWorker = config.bind.flatMap((b) =>
    b.kind === 'per-worker' && b.of === 'unix'
      ? [new RegExp(`^${resolve(cwd, b.path).split('{worker}').map(escape).join('\\d+')}$`)]
      : [],
  );
  const ours = (path: string): boolean =>
    [...own].some((p) => path === p || path.startsWith(`${p}.`)) || perWorker.some((re) => re.test(path));

  const watchers = new Map<string, FSWatcher>();
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | null = null;

  const fire = (): void => {
    timer = null;
    const files = [...changed].map((f) => f.slice(root.length + 1) || f);
    changed.clear();
    log.info({ event: 'reload-change', files }, `--reload: ${files.join(', ')} changed: restarting the workers`);
    reload();
  };

  const onEvent = (dir: string, name: string | Buffer | null): void => {
    const path = name === null ? dir : join(dir, name.toString());
    if (
      ours(path) ||
      path
        .slice(root.length)
        .split(sep)
        .some((part) => part !== '' && skipped(part))
    )
      return;
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) addDir(path);
    changed.add(path);
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(fire, DEBOUNCE_MS);
  };

  const addDir = (dir: string): void => {
    if (watchers.has(dir)) return;
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => onEvent(dir, name));
      // The directory went away (or cannot be read any more): stop watching it.
      watcher.on('error', () => {
        watcher.close();
        watchers.delete(dir);
      });
      watchers.set(dir, watcher);
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory() && !skipped(entry.name)) addDir(join(dir, entry.name));
      }
    } catch (err) {
      log.debug({ event: 'reload-watch-failed', dir, reason: (err as Error).message }, `--reload: cannot watch ${dir}`);
    }
  };

  addDir(root);
  log.warn(
    { event: 'reload-watch', dir: root, directories: watchers.size },
    `--reload: watching ${root} (not node_modules) and restarting the workers when a file changes; a development feature, not for production`,
  );
  return {
    close(): void {
      if (timer !== null) clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
