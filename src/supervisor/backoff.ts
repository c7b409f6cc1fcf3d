// Crash policy, as pure functions: what to do when a worker exits, and how long to wait.

/** The restart policy of one app, in milliseconds. */
export interface RestartPolicy {
  delayMs: number;
  maxDelayMs: number;
  minUptimeMs: number;
  maxRestarts: number;
  /** Exit codes that mean "done": the slot is not restarted (PM2's stop_exit_codes). */
  stopExitCodes: readonly number[];
}

/** What the supervisor knows about an exit when it decides what happens next. */
export interface ExitFacts {
  /** Set when nsup asked the worker to stop (reload, scale-down, shutdown): never a crash. */
  stopReason: StopReason | null;
  /** The exit code, null when a signal ended it (or it never started). */
  code: number | null;
  /** How long the process ran, from fork to exit. */
  uptimeMs: number;
  /** How long it had been up (listening, or ready) before it exited; null when it never was. */
  upMs: number | null;
  /** Consecutive failed starts of this slot before this exit. */
  failures: number;
  /** True while the whole supervisor stops: nothing restarts. */
  shuttingDown: boolean;
}

/** Why nsup asked a worker to stop. */
export type StopReason = 'shutdown' | 'reload' | 'rollback' | 'scale-down' | 'restart' | 'replaced';

/** The decision for one exit. */
export type ExitDecision =
  /** An exit that was asked for, or the supervisor is stopping: do nothing. */
  | { kind: 'none' }
  /** Restart the slot after `delayMs` (0 = at once); `failures` is the new consecutive-failure count. */
  | { kind: 'restart'; delayMs: number; failures: number }
  /** Too many consecutive failures (restart.maxRestarts): stop restarting this slot. */
  | { kind: 'halt'; failures: number }
  /** It exited by itself with one of restart.stopExitCodes: done, not a failure; no restart until a reload, scale or restart. */
  | { kind: 'done'; code: number };

/**
 * How long a worker must have been up (serving) for its crash to be replaced at once: a worker
 * killed while serving is lost capacity to bring back now; one that dies within its first second
 * up (or before it is up) is a failed start to back off from.
 */
export const SERVED_MS = 1000;

/**
 * Decide what an exit means. A worker that ran for minUptime was healthy: restart at once, failure
 * count reset. A worker that had served for SERVED_MS restarts at once too (capacity first), but
 * still counts as a failure until minUptime, for crash-loop reporting and maxRestarts. Any other
 * exit is a failed start: wait delay, 2×delay, … up to maxDelay; halt after maxRestarts in a row.
 * An exit code listed in stopExitCodes means the worker is done, however long it ran.
 */
export function decideExit(facts: ExitFacts, policy: RestartPolicy): ExitDecision {
  if (facts.stopReason !== null || facts.shuttingDown) return { kind: 'none' };
  if (facts.code !== null && policy.stopExitCodes.includes(facts.code)) return { kind: 'done', code: facts.code };
  if (facts.uptimeMs >= policy.minUptimeMs) return { kind: 'restart', delayMs: 0, failures: 0 };
  const failures = facts.failures + 1;
  if (failures > policy.maxRestarts) return { kind: 'halt', failures };
  const served = facts.upMs !== null && facts.upMs >= SERVED_MS;
  return { kind: 'restart', delayMs: served ? 0 : nextDelay(failures, policy), failures };
}

/** Delay before restart number `failures` (1-based): delay, 2×delay, 4×delay … capped at maxDelay. */
export function nextDelay(failures: number, policy: Pick<RestartPolicy, 'delayMs' | 'maxDelayMs'>): number {
  const exponent = Math.max(0, failures - 1);
  // 2 ** 60 overflows nothing in float math but keep the exponent bounded for clarity.
  return Math.min(policy.maxDelayMs, policy.delayMs * 2 ** Math.min(exponent, 40));
}

/** Failures at which an app is shown as `crash-loop` (the first failure may be bad luck). */
export const CRASH_LOOP_FAILURES = 2;

/** "3.2s" or "400ms": how restart delays are written in log lines. */
export function formatDelay(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`;
}
