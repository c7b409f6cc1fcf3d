// Public `nsup/worker` API for code running inside a worker. Importing it outside nsup is safe:
// onDrain/onShutdown hooks never run, send/broadcast do nothing, on() returns a no-op
// unsubscribe, request() rejects.
import { addDrainHook, addShutdownHook } from './worker/hooks.ts';
import { sharedChannel, underNsup } from './worker/shared.ts';
import { IPC_ERROR, NSUP_IPC, ipcError, type DrainReason, type RequestTarget, type Target } from './ipc/protocol.ts';
import type { Handler, RequestOptions } from './ipc/channel.ts';

// The preload (the worker runtime) ran before the app, and made the channel if this is a worker.
const channel = sharedChannel();

/** Types of the messaging API: handlers, the sender they learn about, targets, request options. */
export type { Handler, RequestOptions, Sender } from './ipc/channel.ts';
export type { DrainReason, RequestTarget, Target } from './ipc/protocol.ts';
/** The `code` of each error messaging raises (e.g. `IPC_ERROR.timeout`), and the 1 MiB data limit. */
export { IPC_ERROR } from './ipc/protocol.ts';
export { MAX_DATA_BYTES } from './ipc/payload.ts';

/** This worker's stable slot 0..n-1 (also NSUP_WORKER_ID and NODE_APP_INSTANCE); -1 outside nsup. */
export const workerId: number = underNsup ? Number(process.env.NSUP_WORKER_ID) : -1;

/** The app this worker belongs to; '' outside nsup. */
export const appName: string = underNsup ? (process.env.NSUP_APP ?? '') : '';

/** With waitReady: this worker now counts as up. Does nothing outside nsup. */
export function ready(): void {
  if (underNsup && process.connected) process.send?.({ nsup: NSUP_IPC, type: 'ready' });
}

/**
 * Run `fn` when this worker starts to drain (`reason`: 'reload', 'stop', 'scale' or 'replace'),
 * right after it stopped accepting: the place to close the app's own long-lived connections its
 * own way (WebSockets with its own close code, streams with a final event). Every onDrain hook
 * runs at once and together they get about 1 s; then nsup closes the WebSockets still open
 * (1012 on a reload, scale-down or replacement, 1001 on a stop) and ends the SSE streams.
 */
export function onDrain(fn: (reason: DrainReason) => void | Promise<void>): void {
  addDrainHook(fn);
}

/**
 * Run `fn` before this worker exits on a drain (stop or reload): after its connections are
 * drained, before the app's own listeners for killSignal (SIGTERM by default) run. The hooks run
 * one after another within the rest of the kill timeout (at most half of it when the app has
 * such listeners).
 */
export function onShutdown(fn: () => void | Promise<void>): void {
  addShutdownHook(fn);
}

/** Send `data` to the `topic` handlers of `to` (a worker id of this app, 'all', 'others', or { app, id? }); fire-and-forget. */
export function send(to: Target, topic: string, data?: unknown): void {
  channel?.send(to, topic, data);
}

/** Send `data` to the `topic` handlers of every other worker of this app: send('others', …). */
export function broadcast(topic: string, data?: unknown): void {
  channel?.send('others', topic, data, 'broadcast');
}

/** Handle `topic` messages and requests: `handler(data, fromWorkerId, { app, id })`. Returns an unsubscribe function. */
export function on(topic: string, handler: Handler): () => void {
  return channel ? channel.on(topic, handler) : () => {};
}

/** Ask one worker's `topic` handler; resolves with what it returns. Rejects on no target, no handler, its error, or timeout (5 s). */
export function request(to: RequestTarget, topic: string, data?: unknown, options?: RequestOptions): Promise<unknown> {
  if (channel) return channel.request(to, topic, data, options);
  return Promise.reject(
    ipcError(IPC_ERROR.notUnderNsup, `request('${String(topic)}'): this app is not running under nsup, so there are no other workers to ask. Start it with \`nsup start\`.`),
  );
}
