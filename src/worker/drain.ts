// The stop contract inside a worker, one order for every drain (stop, reload, scale-down,
// replacement; DESIGN.md "The stop contract"):
//   1. stop accepting; keep-alive clients get `Connection: close`; onDrain hooks (about 1 s at most)
//   2. WebSockets get a close frame (1012, or 1001 on stop) and are destroyed after a short
//      handshake grace; SSE streams are ended; in-flight HTTP requests finish
//   3. onShutdown hooks, then the app's own listeners for killSignal, with the rest of killTimeout
//   4. exit once they are done; or, when a listener cleans up on callbacks nsup cannot see,
//      disconnect and let the process end by itself (the primary SIGKILLs it at killTimeout)
import type { Cluster } from 'node:cluster';
import { NSUP_IPC, type DrainReason, type ShutdownDoneMessage } from '../ipc/protocol.ts';
import { appListenerCount, runAppListeners, type StopSignal } from './app-signals.ts';
import { closeIdle, inFlight, lastActivity, openConnectionCount, startDrain } from './connections.ts';
import { runDrainHooks, runShutdownHooks } from './hooks.ts';
import { endEventStreams } from './sse.ts';
import { sleep, within } from './time.ts';
import { closeWebSockets, destroyWebSockets, upgraded } from './websockets.ts';

// node:cluster's exports are the cluster object itself (its ES default export).
const cluster = process.getBuiltinModule('node:cluster') as unknown as Cluster;

/** What a drain is told: its time (the primary SIGKILLs at its end), why, and which listeners to run. */
export interface DrainRequest {
  timeoutMs: number;
  reason: DrainReason;
  killSignal: StopSignal;
}

/** Where the drain is: not started, steps 1-2 (connections), or step 3-4 (the app's listeners were called). */
export type DrainPhase = 'serving' | 'draining' | 'app';

// How long before the primary's SIGKILL the worker means to be gone (exit and flush take time).
const EXIT_MARGIN_MS = 100;
// The onDrain hooks' total bound: they close the app's own long-lived connections, which takes a
// round trip, and the WebSockets nsup closes after them should get their close frame within ~1 s.
const DRAIN_HOOKS_MS = 1000;
// How long idle keep-alive sockets get to send one more request (answered with
// `Connection: close`) before they are closed: closing them at once races a client
// that is sending on them right then (ECONNRESET), see nodejs/node#40071 and PM2 #2729.
const IDLE_GRACE_MS = 500;
// How long a WebSocket client gets to answer nsup's close frame before its socket is destroyed.
const WS_CLOSE_GRACE_MS = 1000;
const POLL_MS = 20;
// A disconnected worker still alive this long after its killTimeout has no primary left to SIGKILL it.
const ORPHAN_EXIT_MS = 1000;
// How long before the end of killTimeout a worker that is still alive says why.
const STILL_ALIVE_NOTE_MS = 300;

let phase: DrainPhase = 'serving';

/** Where this worker's drain is. */
export function drainPhase(): DrainPhase {
  return phase;
}

/**
 * The part of killTimeout that step 3 (the app's listeners and onShutdown hooks) always gets:
 * max(1 s, 30 %), but never more than half, so that connections get the other half of a short
 * killTimeout. Steps 1-2 may use the rest; what they leave unused goes to step 3 as well.
 * 5 s → 1.5 s, 8 s → 2.4 s, 30 s → 9 s, 1.5 s → 750 ms.
 */
export function appShare(timeoutMs: number): number {
  return Math.min(Math.max(1000, 0.3 * timeoutMs), 0.5 * timeoutMs);
}

/** Run the stop contract to its end: the process exits, or is left to end by itself. */
export async function runDrain({ timeoutMs, reason, killSignal }: DrainRequest): Promise<void> {
  const start = Date.now();
  const end = start + Math.max(0, timeoutMs - EXIT_MARGIN_MS);
  const connectionsEnd = end - appShare(timeoutMs);
  phase = 'draining';

  // 1. Nothing new comes in; the app closes its own long-lived resources its own way.
  startDrain();
  await runDrainHooks(reason, Math.min(start + DRAIN_HOOKS_MS, connectionsEnd));

  // 2. What the app left open closes gracefully while in-flight requests finish.
  closeWebSockets(reason);
  endEventStreams();
  await settleConnections(connectionsEnd);

  // 3. The app's own shutdown code. onShutdown hooks first: they are nsup's promise to run before
  // exit, and an app's listener often ends in process.exit(). With app listeners, the hooks get at
  // most half of what is left, so the listeners always get the other half.
  const listeners = appListenerCount(killSignal);
  await runShutdownHooks(listeners > 0 ? Date.now() + (end - Date.now()) / 2 : end);
  if (listeners === 0) process.exit(0);
  phase = 'app';
  const run = runAppListeners(killSignal);
  const settled = await within(run.done, end - Date.now());

  // 4. An app listener that calls process.exit() ended everything above already.
  if (!run.sync) {
    if (!settled) console.error(`nsup: the app's ${killSignal} listener did not finish within killTimeout (${timeoutMs} ms); exiting now`);
    process.exit(run.failed() ? 1 : 0);
  }
  // A listener returned without a promise (`process.on('SIGTERM', () => server.close(() =>
  // pool.end()))`, the Express docs idiom): its cleanup runs on callbacks, and it relies on the
  // process ending once its event loop is empty. Disconnecting marks the exit as intended
  // (exitedAfterDisconnect), so Node's cluster does not force an exit; nothing of nsup's keeps
  // the loop alive from here on.
  explainIfStillAlive(end);
  // Disconnected, a worker no longer dies with its primary (node:cluster workers exit when the IPC
  // channel closes): should the primary be gone by the end of killTimeout, the worker ends itself.
  setTimeout(() => process.exit(1), Math.max(0, end - Date.now()) + ORPHAN_EXIT_MS).unref();
  if (!process.connected) return;
  // Tell the primary first (its SIGKILL message then says why), then disconnect once that is written.
  process.send?.({ nsup: NSUP_IPC, type: 'shutdown-done' } satisfies ShutdownDoneMessage, undefined, undefined, () => {
    if (process.connected) cluster.worker?.disconnect();
  });
}

// Just before the primary's SIGKILL, a process that is still here says what keeps it alive (the
// timer is unref'd: it fires only if something else holds the event loop open).
function explainIfStillAlive(end: number): void {
  setTimeout(() => {
    const held = describeResources(process.getActiveResourcesInfo());
    console.error(`nsup: the app's shutdown listener returned, but the process is still running: its event loop holds ${held || 'nothing nsup can see'} (close them, or end the listener with process.exit())`);
  }, Math.max(0, end - Date.now() - STILL_ALIVE_NOTE_MS)).unref();
}

const RESOURCE_NAMES: Record<string, string> = {
  Timeout: 'a timer (setTimeout/setInterval)',
  Immediate: 'a setImmediate',
  ProcessWrap: 'a child process',
  TCPSocketWrap: 'a TCP connection',
  TCPServerWrap: 'a listening server',
  PipeWrap: 'a pipe or unix socket',
  UDPWrap: 'a UDP socket',
  FSReqCallback: 'a file operation',
  FSReqPromise: 'a file operation',
  FileHandle: 'an open file handle',
  GetAddrInfoReqWrap: 'a DNS lookup',
  FSEventWrap: 'a file watcher',
  StatWatcher: 'a file watcher',
  SignalWrap: 'a signal listener',
};

/** "2 × a timer (setTimeout/setInterval), a child process": the worker's own stdout/stderr pipes left out. */
export function describeResources(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  // The worker's stdout and stderr are pipes to the primary (they never keep it alive by themselves).
  const ownPipes = [process.stdout, process.stderr].filter((stream) => !stream.isTTY).length;
  counts.set('PipeWrap', Math.max(0, (counts.get('PipeWrap') ?? 0) - ownPipes));
  counts.delete('TTYWrap');
  return [...counts]
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${n > 1 ? `${n} × ` : ''}${RESOURCE_NAMES[name] ?? name}`)
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Wait for in-flight requests and WebSocket close handshakes (bounded), then close what is left. */
async function settleConnections(until: number): Promise<void> {
  const wsGraceEnd = Date.now() + WS_CLOSE_GRACE_MS;
  while (Date.now() < until) {
    // A keep-alive client may open a stream during the idle grace: it ends too.
    endEventStreams();
    const now = Date.now();
    const requestsDone = inFlight.size === 0 && (now - lastActivity() >= IDLE_GRACE_MS || openConnectionCount() === 0);
    const websocketsDone = upgraded.size === 0 || now >= wsGraceEnd;
    if (requestsDone && websocketsDone) break;
    await sleep(Math.min(POLL_MS, Math.max(1, until - now)));
  }
  destroyWebSockets();
  closeIdle();
}
