// In the primary: a unix socket file left by a supervisor that was killed (SIGKILL, OOM, power
// loss) makes every worker's listen on that path fail with EADDRINUSE, though nobody listens there.
// node:cluster binds a worker's unix socket in the primary (round-robin scheduling, the default
// off Windows), through net.Server.listen: its `net.server.listen` tracing channel fires just
// before the bind. A socket file there that no process listens on is removed first; one that
// someone does listen on is left alone (that worker's listen fails, and says which path). Linux
// /proc/net/unix tells a live socket from a stale one; elsewhere a connect probe does (refused: stale).
import diagnostics from 'node:diagnostics_channel';
import { lstatSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { isInUse } from './unix-listeners.ts';

/** What happened to a stale socket file found before a bind. */
export interface StaleSocketEvents {
  removed(path: string): void;
  failed(path: string, error: Error): void;
}

/** Remove stale unix socket files before this process binds them; returns the uninstall function. */
export function removeStaleSockets(events: StaleSocketEvents): () => void {
  const channel = diagnostics.tracingChannel('net.server.listen');
  const check = (message: unknown) => {
    const path = (message as { options?: { path?: unknown } } | null)?.options?.path;
    // An abstract socket (a leading NUL) has no file.
    if (typeof path !== 'string' || path === '' || path.startsWith('\0')) return;
    removeIfStale(resolve(path), events);
  };
  // listen() publishes asyncStart before it binds (start, in case a Node version uses it instead).
  const subscribers = { start: check, end() {}, asyncStart: check, asyncEnd() {}, error() {} };
  channel.subscribe(subscribers);
  return () => channel.unsubscribe(subscribers);
}

function removeIfStale(path: string, events: StaleSocketEvents): void {
  try {
    if (!lstatSync(path).isSocket()) return;
  } catch {
    return;
  }
  // Unknown (neither /proc/net/unix nor the probe could tell): a live socket must never be removed.
  if (isInUse(path) !== false) return;
  try {
    unlinkSync(path);
    events.removed(path);
  } catch (error) {
    events.failed(path, error as Error);
  }
}
