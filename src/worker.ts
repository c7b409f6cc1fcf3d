// Public `nsup/worker` API for code running inside a worker. Importing it outside nsup is safe.
import { addShutdownHook, underNsup } from './worker/runtime.ts';
import { NSUP_IPC } from './ipc/protocol.ts';

/** This worker's stable slot 0..n-1 (also NSUP_WORKER_ID and NODE_APP_INSTANCE); -1 outside nsup. */
export const workerId: number = underNsup ? Number(process.env.NSUP_WORKER_ID) : -1;

/** The app this worker belongs to; '' outside nsup. */
export const appName: string = underNsup ? (process.env.NSUP_APP ?? '') : '';

/** With waitReady: this worker now counts as up. Does nothing outside nsup. */
export function ready(): void {
  if (underNsup && process.connected) process.send?.({ nsup: NSUP_IPC, type: 'ready' });
}

/** Run `fn` before this worker exits on a drain (stop or reload), within the kill timeout. */
export function onShutdown(fn: () => void | Promise<void>): void {
  addShutdownHook(fn);
}
