// Time as the core sees it: injectable, so the whole core runs against a fake clock in tests.

/** Reads the time and arms one-shot timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Call `fn` once after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

// setTimeout fires at once for delays above 2^31 - 1 ms (about 24.9 days), so longer waits are
// armed in steps: the caller re-checks the time when the timer fires.
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The process's real clock. Its timers do not keep the process alive on their own. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    const timer = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    timer.unref();
    return () => clearTimeout(timer);
  },
};
