// The one place that computes where nsup keeps its control sockets and daemon logs, and that
// checks the directory is private before anything is put there.
import type { Stats } from 'node:fs';
// (not ES imports of the builtins: see cli/main.ts; status loads this file)
const { chmodSync, lstatSync, mkdirSync, readdirSync } = process.getBuiltinModule('node:fs');
const { homedir } = process.getBuiltinModule('node:os');
const { basename, isAbsolute, join, resolve } = process.getBuiltinModule('node:path');
import { RuntimeDirError } from '../errors.ts';

/** Longest socket path nsup creates; the OS limit (sun_path) is 108 bytes on Linux, 104 on macOS. */
const MAX_SOCKET_PATH_BYTES = 100;

const SOCKET_FILE_RE = /^\d+\.sock$/;

// `$NSUP_HOME`, else `$XDG_RUNTIME_DIR/nsup`, else `~/.nsup`; empty variables count as unset.
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NSUP_HOME) return resolve(env.NSUP_HOME);
  // The XDG base-dir spec says a relative path in these variables is invalid and must be ignored.
  if (env.XDG_RUNTIME_DIR && isAbsolute(env.XDG_RUNTIME_DIR)) return join(env.XDG_RUNTIME_DIR, 'nsup');
  return join(homedir(), '.nsup');
}

// Create the runtime directory (0700) or check the existing one is ours and private; returns its path.
export function ensureRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = runtimeDir(env);
  let stats = lstatOrNull(dir);
  if (stats === null) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new RuntimeDirError(
        `Could not create the nsup runtime directory ${dir}: ${(cause as Error).message}. ` +
          'Check the permissions of its parent, or set NSUP_HOME to a directory you can write.',
        { cause },
      );
    }
    // Check what is there now, not what we meant to create: someone may have raced us.
    stats = lstatOrNull(dir);
    if (stats === null) throw new RuntimeDirError(`The nsup runtime directory ${dir} vanished right after it was created. Retry, or set NSUP_HOME to a private directory.`);
  }
  checkOwnedDirectory(dir, stats);
  if ((stats.mode & 0o077) !== 0) {
    try {
      chmodSync(dir, 0o700);
    } catch (cause) {
      throw new RuntimeDirError(
        `The nsup runtime directory ${dir} has mode ${octal(stats.mode)} and could not be made private (0700): ${(cause as Error).message}. ` +
          `Run \`chmod 700 ${dir}\`, or set NSUP_HOME to a private directory.`,
        { cause },
      );
    }
  }
  return dir;
}

// Path of the control socket of the supervisor with this pid: `<dir>/<pid>.sock`.
export function socketPath(dir: string, pid: number): string {
  const path = join(dir, `${pid}.sock`);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new RuntimeDirError(
      `Control socket path ${path} is ${bytes} bytes; unix socket paths must be shorter than 108 bytes and nsup keeps them to ${MAX_SOCKET_PATH_BYTES}. ` +
        'Set NSUP_HOME to a shorter directory (for example ~/.nsup).',
    );
  }
  return path;
}

// The control sockets present in `dir` (live or stale), sorted by pid; a missing dir has none.
export function listSocketFiles(dir: string): Array<{ pid: number; path: string }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (cause) {
    if (errnoCode(cause) === 'ENOENT') return [];
    throw new RuntimeDirError(`Could not list control sockets in ${dir}: ${(cause as Error).message}. Check that it is a directory you can read.`, { cause });
  }
  return names
    .filter((name) => SOCKET_FILE_RE.test(name))
    .map((name) => ({ pid: Number(name.slice(0, -'.sock'.length)), path: join(dir, name) }))
    .filter((entry) => Number.isSafeInteger(entry.pid) && entry.pid > 0)
    .sort((a, b) => a.pid - b.pid);
}

// Path of an app's log file in daemon mode: `<dir>/<app>.log`.
export function logPath(dir: string, app: string): string {
  // App names are validated by the config schema; this guards against a path escaping `dir`.
  if (app === '' || app === '.' || app === '..' || basename(app) !== app || app.includes('\\')) {
    throw new RuntimeDirError(`App name ${JSON.stringify(app)} cannot be used as a log file name in ${dir}; use letters, digits, '.', '_' and '-'.`);
  }
  return join(dir, `${app}.log`);
}

// --- helpers ---

/** Refuse a symlink, a non-directory, or a directory another user owns. */
function checkOwnedDirectory(dir: string, stats: Stats): void {
  if (stats.isSymbolicLink()) {
    throw new RuntimeDirError(`The nsup runtime directory ${dir} is a symlink; nsup refuses to put its control sockets there. Remove it or set NSUP_HOME to a private directory.`);
  }
  if (!stats.isDirectory()) {
    throw new RuntimeDirError(`The nsup runtime directory ${dir} exists but is a ${kind(stats)}, not a directory. Move it away or set NSUP_HOME to a private directory.`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    throw new RuntimeDirError(
      `The nsup runtime directory ${dir} is owned by uid ${stats.uid}, not by you (uid ${uid}); nsup refuses to use another user's control sockets. ` +
        'Run nsup as that user, or set NSUP_HOME to a private directory you own.',
    );
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (cause) {
    if (errnoCode(cause) === 'ENOENT') return null;
    throw new RuntimeDirError(`Could not inspect the nsup runtime directory ${path}: ${(cause as Error).message}. Check its parent's permissions, or set NSUP_HOME to a private directory.`, { cause });
  }
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

function kind(stats: Stats): string {
  if (stats.isFile()) return 'regular file';
  if (stats.isSocket()) return 'socket';
  if (stats.isFIFO()) return 'FIFO';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'device';
  return 'non-directory';
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}
