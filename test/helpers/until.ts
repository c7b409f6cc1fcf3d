// Waiting on state that event handlers change (clients connecting, closing, receiving): handlers
// call changed(), and until() re-checks its condition then, bounded in time, instead of polling.
const waiters = new Set<() => void>();

/** Tell every pending until() to check its condition again. */
export function changed(): void {
  for (const waiter of waiters) waiter();
}

/** Resolves once `check()` holds; rejects after `timeoutMs`, or at once when `fail()` names a problem. */
export function until(check: () => boolean, what: string, timeoutMs = 10_000, fail: () => string | undefined = () => undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const problem = fail();
      if (problem !== undefined) {
        finish();
        reject(new Error(`${problem} (while waiting for ${what})`));
      } else if (check()) {
        finish();
        resolve();
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      waiters.delete(attempt);
    };
    waiters.add(attempt);
    attempt();
  });
}

/**
 * For state no event announces (a file another process or stream writes): check every `everyMs`
 * until it holds; rejects after `timeoutMs`. Measures time with performance.now(), so a test
 * that fakes Date still gets its bound.
 */
export async function pollUntil(check: () => boolean, what: string, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
