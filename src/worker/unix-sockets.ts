// Inside a cluster worker: the usual "remove the stale socket, then listen" app code
// (`fs.unlinkSync(path)`, `fs.rmSync(path, { force: true })`, `fs.promises.unlink(path)`) would
// delete the socket the primary already bound and shares with every worker: the first worker's
// listen made the primary bind it, the second worker's unlink removes it, and no client can
// connect again while every worker looks fine. So removing a path that is a unix socket succeeds
// without doing anything (a stale one too: the primary removes stale sockets right before it
// binds, stale-sockets.ts); any other file is removed as asked, and a missing path fails (or
// succeeds, under rm's force) as it would, without a removal syscall that could race the
// primary's bind. Linux only (like the primary's stale-socket removal): elsewhere nothing is patched.
// Imported for its effect by runtime.ts, before the user's script runs.
import type { Cluster } from 'node:cluster';
import type * as FS from 'node:fs';

// Builtins from process.getBuiltinModule (runtime.ts says why): the object patched below is the
// same one `import fs from 'node:fs'` and require('fs') give the app.
const cluster = process.getBuiltinModule('node:cluster') as unknown as Cluster;
const fs = process.getBuiltinModule('node:fs') as { -readonly [K in keyof typeof FS]: (typeof FS)[K] };
const { syncBuiltinESMExports } = process.getBuiltinModule('node:module');
const { fileURLToPath } = process.getBuiltinModule('node:url');

// Once per process, even when two copies of nsup are loaded (the CLI's preload and the app's own).
const INSTALLED_KEY = Symbol.for('nsup.worker.unixSocketsGuard');
const globals = globalThis as { [INSTALLED_KEY]?: boolean };

if (cluster.isWorker && typeof process.env.NSUP_APP === 'string' && process.platform === 'linux' && !globals[INSTALLED_KEY]) {
  globals[INSTALLED_KEY] = true;
  install();
}

/** Whether a worker's removal of `target` is skipped: it is a unix socket (live or stale; the primary removes stale ones before binding). */
export function isKeptSocket(target: unknown): boolean {
  return check(target, 'unlink', false) === LIVE;
}

// What a removal finds: a live socket (skip it), nothing (the error the original would give, or
// success under rm's force), or something to remove (the original runs).
const LIVE = Symbol('kept socket');
type Found = typeof LIVE | NodeJS.ErrnoException | 'absent-ok' | null;

function check(target: unknown, syscall: 'unlink' | 'lstat', force: boolean): Found {
  const path = pathOf(target);
  if (path === null) return null;
  let isSocket: boolean;
  try {
    isSocket = fs.lstatSync(path).isSocket();
  } catch (error) {
    // Nothing there: answer without the removal syscall. Between this lstat and an unlink the
    // primary may bind the socket for another worker's listen, and the unlink would take it away.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return null;
    return force ? 'absent-ok' : missing(syscall, path);
  }
  // Any socket is left alone, a stale one too: checking "is anyone listening" and then unlinking
  // races the primary, which may bind a new socket at the path in between (one worker removed a
  // stale file and listened, another worker's check still saw the stale one: CI saw 0 of 10
  // requests served). The primary removes a stale socket itself, right before it binds the path
  // (stale-sockets.ts), so the app's "remove the stale socket, then listen" still works.
  return isSocket ? LIVE : null;
}

/** The error Node gives for a missing path (unlink names the unlink syscall, rm its lstat). */
function missing(syscall: 'unlink' | 'lstat', path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOENT: no such file or directory, ${syscall} '${path}'`), { errno: -2, code: 'ENOENT', syscall, path });
}

function isForce(options: unknown): boolean {
  return typeof options === 'object' && options !== null && (options as FS.RmOptions).force === true;
}

function install(): void {
  const promises = fs.promises;
  const original = { unlink: fs.unlink, unlinkSync: fs.unlinkSync, rm: fs.rm, rmSync: fs.rmSync, unlinkAsync: promises.unlink, rmAsync: promises.rm };
  const settle = (found: Found, callback: FS.NoParamCallback) => void process.nextTick(callback, found instanceof Error ? found : null);
  // The same names and arity as the originals: some libraries check fn.length or print the name.
  fs.unlinkSync = function unlinkSync(path: FS.PathLike): void {
    const found = check(path, 'unlink', false);
    if (found instanceof Error) throw found;
    if (found !== null) return;
    return original.unlinkSync.apply(fs, arguments as unknown as [FS.PathLike]);
  };
  fs.rmSync = function rmSync(path: FS.PathLike, options?: FS.RmOptions): void {
    const found = check(path, 'lstat', isForce(options));
    if (found instanceof Error) throw found;
    if (found !== null) return;
    return original.rmSync.apply(fs, arguments as unknown as [FS.PathLike, FS.RmOptions?]);
  };
  fs.unlink = function unlink(path: FS.PathLike, callback: FS.NoParamCallback): void {
    const found = typeof callback === 'function' ? check(path, 'unlink', false) : null;
    if (found !== null) return settle(found, callback);
    return original.unlink.apply(fs, arguments as unknown as [FS.PathLike, FS.NoParamCallback]);
  } as typeof fs.unlink;
  fs.rm = function rm(path: FS.PathLike, options: FS.RmOptions | FS.NoParamCallback, callback?: FS.NoParamCallback): void {
    const done = typeof options === 'function' ? options : callback;
    const found = typeof done === 'function' ? check(path, 'lstat', isForce(options)) : null;
    if (found !== null) return settle(found, done!);
    return (original.rm as (...args: unknown[]) => void).apply(fs, [...arguments]);
  } as typeof fs.rm;
  promises.unlink = function unlink(path: FS.PathLike): Promise<void> {
    const found = check(path, 'unlink', false);
    if (found !== null) return found instanceof Error ? Promise.reject(found) : Promise.resolve();
    return original.unlinkAsync.apply(promises, arguments as unknown as [FS.PathLike]);
  };
  promises.rm = function rm(path: FS.PathLike, options?: FS.RmOptions): Promise<void> {
    const found = check(path, 'lstat', isForce(options));
    if (found !== null) return found instanceof Error ? Promise.reject(found) : Promise.resolve();
    return original.rmAsync.apply(promises, arguments as unknown as [FS.PathLike, FS.RmOptions?]);
  };
  // ESM named imports (`import { unlinkSync } from 'node:fs'`) are bound to the exports as they
  // were when first imported: this makes them see the patched functions.
  syncBuiltinESMExports();
}

function pathOf(target: unknown): string | null {
  if (typeof target === 'string') return target;
  if (target instanceof URL) return target.protocol === 'file:' ? fileURLToPath(target) : null;
  if (Buffer.isBuffer(target)) return target.toString();
  return null;
}
