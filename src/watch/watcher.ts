// One chokidar watcher per app: debounced file changes → one rolling reload. node_modules, .git,
// dot-files and *.log are never watched, so an app that logs next to its code cannot loop itself.
import { watch, type FSWatcher } from 'chokidar';
import { basename, matchesGlob, relative, sep } from 'node:path';
import type { ResolvedApp } from '../config/define.ts';

/** Patterns every watcher ignores, on top of the app's own `watch.ignore`. */
export const DEFAULT_IGNORES = ['**/node_modules/**', '**/.git/**', '**/.*', '**/*.log'];

/** A running watcher; close() is idempotent. */
export interface AppWatcher {
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Watch `app.watch.paths`; calls onChange(paths) once per burst of changes (debounced). */
export function watchApp(app: ResolvedApp, onChange: (paths: string[]) => void): AppWatcher | null {
  if (!app.watch) return null;
  const { paths, ignore, debounceMs } = app.watch;
  const patterns = [...DEFAULT_IGNORES, ...ignore];
  const ignored = (path: string): boolean => {
    if (basename(path).startsWith('.') || path.split(sep).some((part) => part === 'node_modules' || part === '.git')) return true;
    const rel = relativeToAny(paths, path);
    return patterns.some((pattern) => matchesGlob(path, pattern) || (rel !== null && matchesGlob(rel, pattern)));
  };
  const watcher: FSWatcher = watch(paths, { ignoreInitial: true, ignored, persistent: true });
  let changed = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  const fire = () => {
    timer = null;
    const batch = [...changed];
    changed = new Set();
    onChange(batch);
  };
  watcher.on('all', (_event, path) => {
    changed.add(path);
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
  });
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  let closing: Promise<void> | null = null;
  return {
    ready,
    close: () => {
      if (timer) clearTimeout(timer);
      closing ??= watcher.close();
      return closing;
    },
  };
}

function relativeToAny(roots: string[], path: string): string | null {
  for (const root of roots) {
    const rel = relative(root, path);
    if (rel && !rel.startsWith('..')) return rel;
  }
  return null;
}
