// Crash policy, as pure functions: what to do when a worker exits, and how long to wait.

/** The restart policy of one app, in milliseconds. */
export interface RestartPolicy {
  delayMs: number;
  maxDelayMs: number;
  minUptimeMs: number;
  maxRestarts: number;
}

/** What the supervisor knows about an exit when it decides what happens next. */
export interface ExitFacts {
  /** Set when nsup asked the worker to stop (reload, scale-down, shutdown): never a crash. */
  stopReason: StopReason | null;
  /** How long the process ran, from fork to exit. */
  uptimeMs: number;
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
  | { kind: 'halt'; failures: number };

/** Decide what an exit means: a worker up for minUptime restarts at once, a failing one backs off. */
export function decideExit(facts: ExitFacts, policy: RestartPolicy): ExitDecision {
  if (facts.stopReason !== null || facts.shuttingDown) return { kind: 'none' };
  if (facts.uptimeMs >= policy.minUptimeMs) return { kind: 'restart', delayMs: 0, failures: 0 };
  const failures = facts.failures + 1;
  if (failures > policy.maxRestarts) return { kind: 'halt', failures };
  return { kind: 'restart', delayMs: nextDelay(failures, policy), failures };
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
