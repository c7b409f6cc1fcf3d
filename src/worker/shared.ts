// What the preload (runtime.ts) and the `nsup/worker` API (worker.ts) share in one worker
// process. They are two separate files (scripts/bundle.js: the preload is one CommonJS file loaded
// with --require; the API is the ES module an app imports), and an app may bring its own copy of
// nsup besides: the state lives on global symbols, so every copy sees the one the preload made.
import type { Cluster } from 'node:cluster';
import type { Channel } from '../ipc/channel.ts';

const cluster = process.getBuiltinModule('node:cluster') as unknown as Cluster;

/** Whether this process is an nsup worker. */
export const underNsup = cluster.isWorker && typeof process.env.NSUP_APP === 'string';

const CHANNEL_KEY = Symbol.for('nsup.worker.channel');
const globals = globalThis as { [CHANNEL_KEY]?: Channel };

/** This worker's end of messaging between workers (made by the preload); null outside nsup. */
export function sharedChannel(): Channel | null {
  return underNsup ? (globals[CHANNEL_KEY] ?? null) : null;
}

/** Keep `make()`'s channel as the process's one, unless a copy loaded earlier made it; true when this call did. */
export function claimChannel(make: () => Channel): boolean {
  if (!underNsup || globals[CHANNEL_KEY]) return false;
  globals[CHANNEL_KEY] = make();
  return true;
}
