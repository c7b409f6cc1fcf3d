// One chokidar watcher per app: debounced file changes → one rolling reload. node_modules, .git,
// dot-files and *.log are never watched, so an app that logs next to its code cannot loop itself.
// A watcher error (inotify limit, unreadable path) never reaches the primary as an uncaught
// 'error': it is handed to onError, and the running workers are untouched.
import { watch, type FSWatcher } from 'chokidar';
import { basename, matchesGlob, relative, sep } from 'node:path';
import type { ResolvedApp } from '../config/define.ts';

/** Patterns every watcher ignores, on top of the app's own `watch.ignore`. */
export const DEFAULT_IGNORES = ['**/node_modules/**', '**/.git/**', '**/.*', '**/*.log'];

/** A running watcher; close() is idempotent. */
export interface AppWatcher {
  ready: Promise<void>;
  close(): Promise<void>;
  /** @internal The chokidar watcher itself, for tests that make it fail. */
  fsWatcher: FSWatcher;
}

/** Watch `app.watch.paths`; calls onChange(paths) once per burst of changes (debounced), onError(error) on a watcher error. */
export function watchApp(app: ResolvedApp, onChange: (paths: string[]) => void, onError?: (error: Error) => void): AppWatcher | null {
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
  // Always listened to: an EventEmitter 'error' without a listener throws, and chokidar emits one
  // for ENOSPC (inotify limit), EMFILE or an unreadable path while it keeps watching the rest.
  watcher.on('error', (error) => onError?.(error instanceof Error ? error : new Error(String(error))));
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  let closing: Promise<void> | null = null;
  return {
    ready,
    fsWatcher: watcher,
    close: () => {
      if (timer) clearTimeout(timer);
      closing ??= watcher.close();
      return closing;
    },
  };
}

/** One line for a watcher error: what failed, the fix, and that the workers keep serving. */
export function describeWatchError(app: string, error: Error): string {
  const { code, path } = error as NodeJS.ErrnoException;
  const at = path ? ` (${path})` : '';
  const impact = 'its workers keep serving, but file changes may not trigger a reload until this is fixed';
  switch (code) {
    case 'ENOSPC':
      return `${app}: cannot watch more files: the inotify watch limit (fs.inotify.max_user_watches) is reached${at}; ${impact}. Raise it (sudo sysctl fs.inotify.max_user_watches=524288, and in /etc/sysctl.d to keep it), or narrow watch.paths / add watch.ignore patterns.`;
    case 'EACCES':
    case 'EPERM':
      return `${app}: no permission to read ${path ?? 'a watched path'} (${code}); ${impact}. Give the nsup user read access to it, or add it to watch.ignore.`;
    case 'EMFILE':
    case 'ENFILE':
      return `${app}: too many open files while watching${at} (${code}); ${impact}. Raise the limit (ulimit -n, or LimitNOFILE= in the systemd unit), or narrow watch.paths / add watch.ignore patterns.`;
    case 'ELOOP':
      return `${app}: a symlink loop at ${path ?? 'a watched path'} (ELOOP); ${impact}. Remove the loop, or add it to watch.ignore.`;
    default:
      return `${app}: file watcher error${code ? ` ${code}` : ''}${at}: ${error.message}; ${impact}. Check watch.paths, or add the failing path to watch.ignore.`;
  }
}

function relativeToAny(roots: string[], path: string): string | null {
  for (const root of roots) {
    const rel = relative(root, path);
    if (rel && !rel.startsWith('..')) return rel;
  }
  return null;
}
