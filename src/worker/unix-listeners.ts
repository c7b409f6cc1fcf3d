// Which unix socket paths are in use, from Linux /proc/net/unix. A socket file by itself says
// nothing: one left by a killed process looks the same as a live one, but only a live one has a
// kernel socket bound to its name. Used by the worker (an app's unlink of a live socket is skipped)
// and the primary (a stale file is removed before a bind). Without /proc (macOS), a connect
// probe: refused means nobody listens (a socket bound but not yet listening counts as free there).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';

// Flags 00010000 is __SO_ACCEPTCON (listen() was called); St 01 is SS_UNCONNECTED.
const ACCEPTCON = 0x10000;
const UNCONNECTED = 1;

/** A named socket of /proc/net/unix. */
export interface BoundSocket {
  path: string;
  /** listen() was called (Flags __SO_ACCEPTCON, St SS_UNCONNECTED). */
  listening: boolean;
}

/** The named sockets of a /proc/net/unix text; abstract names (@…) left out. */
export function parseSockets(text: string): BoundSocket[] {
  const sockets: BoundSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    // "Num: RefCount Protocol Flags Type St Inode Path": the path, if any, is the rest of the line.
    const match = /^\s*[0-9a-fA-F]+:\s+[0-9a-fA-F]+\s+[0-9a-fA-F]+\s+([0-9a-fA-F]+)\s+[0-9a-fA-F]+\s+([0-9a-fA-F]+)\s+\d+ (.+)$/.exec(line);
    if (!match) continue;
    const [, flags, state, path] = match;
    if (path!.startsWith('@')) continue;
    sockets.push({ path: path!, listening: (parseInt(flags!, 16) & ACCEPTCON) !== 0 && parseInt(state!, 16) === UNCONNECTED });
  }
  return sockets;
}

/**
 * Whether `path` (absolute) is among the socket names. A name is as bound: a relative one is
 * relative to its binder's cwd (the cluster primary binds the shorter of the relative and absolute
 * path), so it matches when it resolves to `path` from one of `cwds`, or is a plain suffix of it.
 */
export function matchesName(path: string, listening: readonly string[], cwds: readonly string[]): boolean {
  return listening.some((name) => {
    if (isAbsolute(name)) return name === path;
    if (cwds.some((cwd) => resolve(cwd, name) === path)) return true;
    return !name.split('/').includes('..') && path.endsWith(sep + name);
  });
}

/** Where isInUse looks; tests point `procRoot` at a missing tree and fake the probe. */
export interface InUseOptions {
  /** Default '/proc'. */
  procRoot?: string;
  /** Used when `<procRoot>/net/unix` cannot be read: true = connected, false = refused, null = unknown. */
  probe?: (path: string) => boolean | null;
}

/**
 * Whether the unix socket at `path` is in use: some process listens on it, or has bound it and is
 * about to listen (the primary binds, then listens: a worker's unlink in between must not count it
 * stale). Per /proc/net/unix, else per a connect probe; null when unknown.
 */
export function isInUse(path: string, cwds: readonly string[] = [process.cwd()], opts: InUseOptions = {}): boolean | null {
  let text: string;
  try {
    text = readFileSync(join(opts.procRoot ?? '/proc', 'net', 'unix'), 'latin1');
  } catch {
    return (opts.probe ?? connectProbe)(resolve(path));
  }
  return matchesName(resolve(path), parseSockets(text).map((socket) => socket.path), cwds);
}

// Prints whether a connect to argv[1] succeeds; a connect cannot be waited for synchronously in
// this process, and the caller (a hook just before a bind) must answer synchronously.
const PROBE = `const s = require('node:net').connect(process.argv[1]);
s.on('connect', () => { process.stdout.write('in-use'); s.destroy(); });
s.on('error', (e) => process.stdout.write(e.code === 'ECONNREFUSED' ? 'free' : 'unknown'));`;
const PROBE_TIMEOUT_MS = 2000;

/** A connect probe in a child Node (one Node start, 50 to 200 ms; only where /proc/net/unix is missing and a socket file exists). */
export function connectProbe(path: string): boolean | null {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const result = spawnSync(process.execPath, ['-e', PROBE, path], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, env, stdio: ['ignore', 'pipe', 'ignore'] });
  if (result.stdout === 'in-use') return true;
  if (result.stdout === 'free') return false;
  return null;
}

