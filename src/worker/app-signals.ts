// The app's own SIGTERM/SIGINT listeners: registered the usual way (process.on, process.listeners,
// removeListener and NestJS's enableShutdownHooks() all keep working), but run when nsup says so,
// at step 3 of a drain, instead of the moment the signal arrives.
//
// Node delivers a signal by calling the process.emit that was current when the first listener for
// that signal was added (a bound function, see startListeningIfSignal in Node's
// lib/internal/process/signal.js; checked on Node 22, 24 and 26). So process.emit is replaced first
// and nsup's own listeners are added after: every SIGTERM/SIGINT then goes to nsup's wrapper, which
// starts the drain; every other event passes through untouched.

/** The signals that start a drain. */
export type StopSignal = 'SIGTERM' | 'SIGINT';

const STOP_SIGNALS: readonly StopSignal[] = ['SIGTERM', 'SIGINT'];

// nsup's own listeners (they keep Node's signal handler installed; the app's are the others).
const own = new Map<StopSignal | 'SIGHUP', () => void>();

/**
 * Send every SIGTERM/SIGINT to `onSignal` instead of the app's listeners, and keep SIGHUP from
 * them altogether. A worker gets SIGHUP only with its whole process group (a closed terminal,
 * `kill -HUP -<pgid>`), and the primary answers that with a rolling reload, which drains this
 * worker and runs the app's shutdown code then; delivered to the app, it would shut down every
 * serving worker at once (NestJS's enableShutdownHooks() listens to SIGHUP by default).
 */
export function interceptSignals(onSignal: (signal: StopSignal) => void): void {
  const emit = process.emit;
  process.emit = function (this: NodeJS.Process, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'SIGTERM' || event === 'SIGINT') {
      onSignal(event);
      return true;
    }
    if (event === 'SIGHUP') return true;
    return (emit as (event: string | symbol, ...args: unknown[]) => boolean).call(this, event, ...args);
  } as typeof process.emit;
  for (const signal of [...STOP_SIGNALS, 'SIGHUP'] as const) {
    // A preload before nsup's (`--import`/`--require` in nodeArgs, e.g. an APM agent) may listen
    // already, which bound the original emit: take its listeners off so that Node binds the wrapper
    // when nsup's listener is added, then put them back in their order.
    const earlier = process.rawListeners(signal) as Array<(...args: unknown[]) => void>;
    for (const listener of earlier) process.removeListener(signal, listener);
    const listener = signal === 'SIGHUP' ? () => {} : () => onSignal(signal);
    own.set(signal, listener);
    process.on(signal, listener);
    for (const listener of earlier) process.on(signal, listener);
  }
}

/** How many listeners the app has for `signal` (nsup's own not counted). */
export function appListenerCount(signal: StopSignal): number {
  return appListeners(signal).length;
}

/** What calling the app's listeners gave: `done` once every returned promise settled. */
export interface AppListenersRun {
  count: number;
  /** Some listener returned without a promise: its cleanup runs on callbacks nsup cannot see. */
  sync: boolean;
  /** Settles once every promise a listener returned has settled. */
  done: Promise<unknown>;
  /** Whether a listener threw or its promise rejected (read after `done`). */
  failed(): boolean;
}

/**
 * Call the app's listeners for `signal` the way Node would (in order, with the signal's name).
 * nsup's own listener comes off first, so they see the listeners they would see without nsup:
 * code that acts only when it is the last listener (signal-exit: run the exit handlers, then
 * re-raise) does so, and a listener that removes itself and re-sends the signal gets the
 * default action from Node itself.
 */
export function runAppListeners(signal: StopSignal): AppListenersRun {
  const listeners = appListeners(signal);
  const mine = own.get(signal);
  if (mine && listeners.length > 0) {
    process.removeListener(signal, mine);
    own.delete(signal);
  }
  let failed = false;
  const fail = (error: unknown) => {
    failed = true;
    console.error(`nsup: the app's ${signal} listener failed:`, error);
  };
  const promises: Array<Promise<unknown>> = [];
  let sync = false;
  for (const listener of listeners) {
    try {
      // rawListeners: a once() listener is its wrapper, which removes itself when called.
      const result: unknown = listener.call(process, signal);
      if (isThenable(result)) promises.push(Promise.resolve(result).catch(fail));
      else sync = true;
    } catch (error) {
      fail(error);
    }
  }
  return { count: listeners.length, sync, done: Promise.all(promises), failed: () => failed };
}

/**
 * `signal` came once the app's listeners ran, and the app has none for it (a second Ctrl-C while
 * its SIGTERM listeners clean up): take nsup's listener off and re-raise it, so the process ends
 * by that signal's default action, as it would without nsup.
 */
export function takeDefaultAction(signal: StopSignal): void {
  const listener = own.get(signal);
  if (listener) process.removeListener(signal, listener);
  own.delete(signal);
  process.kill(process.pid, signal);
}

// ---------------------------------------------------------------------------------------------
// Helpers

function appListeners(signal: StopSignal): Array<(...args: unknown[]) => unknown> {
  const mine = own.get(signal);
  return (process.rawListeners(signal) as Array<(...args: unknown[]) => unknown>).filter((listener) => listener !== mine);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
