// Bounded waits for the drain. Every timer is cleared when the wait ends early, so none of them
// keeps a worker alive that is meant to end once its own cleanup is done.

/** Wait for `promise`, at most `ms`; resolves true when it settled first (a rejection counts as settled). */
export function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const settle = () => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(settle, settle);
  });
}

/** Resolve after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
