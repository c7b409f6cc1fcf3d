// The hooks an app registers through `nsup/worker`: onDrain (long-lived resources, at the start of a
// drain) and onShutdown (before exit), and how each kind runs within its time bound.
import type { DrainReason } from '../ipc/protocol.ts';
import { within } from './time.ts';

/** An onDrain hook: close the app's own long-lived connections (WebSockets …) its own way. */
export type DrainHook = (reason: DrainReason) => void | Promise<void>;
/** An onShutdown hook: runs once connections are drained, before the app's signal listeners and exit. */
export type ShutdownHook = () => void | Promise<void>;

// Shared per process through global symbols: when two copies of nsup are loaded (the CLI's
// preload and an app's own node_modules/nsup), one runtime drains and runs every copy's hooks.
const SHUTDOWN_KEY = Symbol.for('nsup.worker.shutdownHooks');
const DRAIN_KEY = Symbol.for('nsup.worker.drainHooks');
const globals = globalThis as { [SHUTDOWN_KEY]?: ShutdownHook[]; [DRAIN_KEY]?: DrainHook[] };
const shutdownHooks = (globals[SHUTDOWN_KEY] ??= []);
const drainHooks = (globals[DRAIN_KEY] ??= []);

/** Register a function that runs before this worker exits on drain. */
export function addShutdownHook(fn: ShutdownHook): void {
  shutdownHooks.push(fn);
}

/** Register a function that runs when a drain starts, before nsup closes the remaining WebSockets and streams. */
export function addDrainHook(fn: DrainHook): void {
  drainHooks.push(fn);
}

/** Run every onDrain hook at once (they close independent resources), until all settle or `until`. */
export async function runDrainHooks(reason: DrainReason, until: number): Promise<void> {
  if (drainHooks.length === 0) return;
  const runs = drainHooks.map((hook) => Promise.resolve().then(() => hook(reason)).catch((error: unknown) => console.error('nsup: an onDrain hook failed:', error)));
  await within(Promise.all(runs), until - Date.now());
}

/** Run the onShutdown hooks one after another, in registration order, until `until`. */
export async function runShutdownHooks(until: number): Promise<void> {
  for (const hook of shutdownHooks) {
    const left = until - Date.now();
    if (left <= 0) return;
    await within(Promise.resolve().then(hook).catch((error: unknown) => console.error('nsup: an onShutdown hook failed:', error)), left);
  }
}
