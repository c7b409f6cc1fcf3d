// decideExit / nextDelay / formatDelay: the crash policy as tables of facts → decisions.

import { describe, expect, it } from 'vitest';
import {
  decideExit,
  formatDelay,
  nextDelay,
  type ExitDecision,
  type ExitFacts,
  type RestartPolicy,
} from '../../src/supervisor/backoff.ts';

/** The shipped defaults: delay 100ms doubling to 15s, healthy after 30s, here with a finite maxRestarts. */
const policy: RestartPolicy = { delayMs: 100, maxDelayMs: 15_000, minUptimeMs: 30_000, maxRestarts: 5, stopExitCodes: [] };

/** A crash after a short uptime, with no stop asked for. */
const crash: ExitFacts = { stopReason: null, code: 1, uptimeMs: 50, upMs: null, failures: 0, shuttingDown: false };

describe('decideExit', () => {
  const matrix: Array<{ name: string; facts: Partial<ExitFacts>; policy?: Partial<RestartPolicy>; expected: ExitDecision }> = [
    // Exits nsup asked for, or while the supervisor stops: never a restart, whatever else is true.
    { name: "stopReason 'shutdown'", facts: { stopReason: 'shutdown' }, expected: { kind: 'none' } },
    { name: "stopReason 'reload'", facts: { stopReason: 'reload' }, expected: { kind: 'none' } },
    { name: "stopReason 'rollback'", facts: { stopReason: 'rollback' }, expected: { kind: 'none' } },
    { name: "stopReason 'scale-down'", facts: { stopReason: 'scale-down' }, expected: { kind: 'none' } },
    { name: "stopReason 'restart'", facts: { stopReason: 'restart' }, expected: { kind: 'none' } },
    { name: 'stopReason set even with failures past maxRestarts', facts: { stopReason: 'reload', failures: 99 }, expected: { kind: 'none' } },
    { name: 'stopReason set after a long uptime', facts: { stopReason: 'restart', uptimeMs: 60_000 }, expected: { kind: 'none' } },
    { name: 'shuttingDown, short uptime', facts: { shuttingDown: true }, expected: { kind: 'none' } },
    { name: 'shuttingDown, long uptime', facts: { shuttingDown: true, uptimeMs: 60_000 }, expected: { kind: 'none' } },
    { name: 'shuttingDown, failures past maxRestarts', facts: { shuttingDown: true, failures: 99 }, expected: { kind: 'none' } },

    // Up for at least minUptime: healthy, restart at once and forget earlier failures.
    { name: 'uptime exactly minUptime', facts: { uptimeMs: 30_000, failures: 3 }, expected: { kind: 'restart', delayMs: 0, failures: 0 } },
    { name: 'uptime above minUptime', facts: { uptimeMs: 3_600_000, failures: 0 }, expected: { kind: 'restart', delayMs: 0, failures: 0 } },
    {
      name: 'long uptime resets failures even past maxRestarts',
      facts: { uptimeMs: 30_000, failures: 99 },
      expected: { kind: 'restart', delayMs: 0, failures: 0 },
    },

    // Short uptime: a failed start, back off.
    { name: 'first failure', facts: { failures: 0 }, expected: { kind: 'restart', delayMs: 100, failures: 1 } },
    { name: 'second failure', facts: { failures: 1 }, expected: { kind: 'restart', delayMs: 200, failures: 2 } },
    { name: 'third failure', facts: { failures: 2 }, expected: { kind: 'restart', delayMs: 400, failures: 3 } },
    { name: 'uptime 1ms below minUptime', facts: { uptimeMs: 29_999, failures: 3 }, expected: { kind: 'restart', delayMs: 800, failures: 4 } },
    { name: 'uptime 0', facts: { uptimeMs: 0, failures: 0 }, expected: { kind: 'restart', delayMs: 100, failures: 1 } },
    { name: 'failures+1 == maxRestarts still restarts', facts: { failures: 4 }, expected: { kind: 'restart', delayMs: 1_600, failures: 5 } },

    // Up (serving) for SERVED_MS before the crash: lost capacity, restart at once, but still a failure until minUptime.
    { name: 'served 1 s, first crash', facts: { uptimeMs: 1_100, upMs: 1_000 }, expected: { kind: 'restart', delayMs: 0, failures: 1 } },
    { name: 'served 5 s, third crash in a row', facts: { uptimeMs: 5_100, upMs: 5_000, failures: 2 }, expected: { kind: 'restart', delayMs: 0, failures: 3 } },
    { name: 'up 999 ms: a crash right after start backs off', facts: { uptimeMs: 1_100, upMs: 999 }, expected: { kind: 'restart', delayMs: 100, failures: 1 } },
    { name: 'ran 20 s but never up (never listened)', facts: { uptimeMs: 20_000, upMs: null, failures: 1 }, expected: { kind: 'restart', delayMs: 200, failures: 2 } },
    { name: 'served, but failures+1 > maxRestarts halts', facts: { uptimeMs: 5_100, upMs: 5_000, failures: 5 }, expected: { kind: 'halt', failures: 6 } },

    // Too many consecutive failures: halt.
    { name: 'failures+1 > maxRestarts halts', facts: { failures: 5 }, expected: { kind: 'halt', failures: 6 } },
    { name: 'far past maxRestarts halts', facts: { failures: 50 }, expected: { kind: 'halt', failures: 51 } },
    { name: 'maxRestarts 0 halts on the first failure', facts: { failures: 0 }, policy: { maxRestarts: 0 }, expected: { kind: 'halt', failures: 1 } },
    {
      name: 'maxRestarts 0 still restarts a healthy worker',
      facts: { uptimeMs: 30_000 },
      policy: { maxRestarts: 0 },
      expected: { kind: 'restart', delayMs: 0, failures: 0 },
    },

    // maxRestarts Infinity (the default): never halts, the delay stays capped.
    {
      name: 'Infinity: 10th failure',
      facts: { failures: 9 },
      policy: { maxRestarts: Infinity },
      expected: { kind: 'restart', delayMs: 15_000, failures: 10 },
    },
    {
      name: 'Infinity: millionth failure',
      facts: { failures: 999_999 },
      policy: { maxRestarts: Infinity },
      expected: { kind: 'restart', delayMs: 15_000, failures: 1_000_000 },
    },
    {
      name: 'Infinity: MAX_SAFE_INTEGER failures',
      facts: { failures: Number.MAX_SAFE_INTEGER - 1 },
      policy: { maxRestarts: Infinity },
      expected: { kind: 'restart', delayMs: 15_000, failures: Number.MAX_SAFE_INTEGER },
    },
  ];

  it.each(matrix)('$name → $expected.kind', ({ facts, policy: override, expected }) => {
    expect(decideExit({ ...crash, ...facts }, { ...policy, ...override })).toEqual(expected);
  });

  it('does not mutate its inputs', () => {
    const facts = Object.freeze({ ...crash, failures: 2 });
    const frozen = Object.freeze({ ...policy });
    expect(() => decideExit(facts, frozen)).not.toThrow();
    expect(facts.failures).toBe(2);
  });
});

describe('nextDelay', () => {
  const matrix: Array<{ failures: number; expected: number }> = [
    { failures: 0, expected: 100 }, // exponent clamped at 0
    { failures: 1, expected: 100 },
    { failures: 2, expected: 200 },
    { failures: 3, expected: 400 },
    { failures: 4, expected: 800 },
    { failures: 5, expected: 1_600 },
    { failures: 6, expected: 3_200 },
    { failures: 7, expected: 6_400 },
    { failures: 8, expected: 12_800 },
    { failures: 9, expected: 15_000 }, // 25 600 capped
    { failures: 10, expected: 15_000 },
    { failures: 41, expected: 15_000 },
    { failures: 1_000, expected: 15_000 },
    { failures: 1e9, expected: 15_000 },
    { failures: Number.MAX_SAFE_INTEGER, expected: 15_000 },
    { failures: Infinity, expected: 15_000 },
  ];

  it.each(matrix)('failure $failures → $expected ms', ({ failures, expected }) => {
    const delay = nextDelay(failures, { delayMs: 100, maxDelayMs: 15_000 });
    expect(delay).toBe(expected);
    expect(Number.isFinite(delay)).toBe(true);
  });

  it('never decreases and never exceeds maxDelay', () => {
    let previous = 0;
    for (let failures = 1; failures <= 200; failures++) {
      const delay = nextDelay(failures, { delayMs: 100, maxDelayMs: 15_000 });
      expect(delay).toBeGreaterThanOrEqual(previous);
      expect(delay).toBeLessThanOrEqual(15_000);
      previous = delay;
    }
  });

  const policies: Array<{ delayMs: number; maxDelayMs: number; failures: number; expected: number }> = [
    { delayMs: 1_000, maxDelayMs: 60_000, failures: 3, expected: 4_000 },
    { delayMs: 1_000, maxDelayMs: 60_000, failures: 100, expected: 60_000 },
    { delayMs: 0, maxDelayMs: 15_000, failures: 5, expected: 0 },
    { delayMs: 0, maxDelayMs: 15_000, failures: 1e6, expected: 0 },
    { delayMs: 500, maxDelayMs: 100, failures: 1, expected: 100 }, // cap below the base delay wins
  ];

  it.each(policies)('delay $delayMs, cap $maxDelayMs, failure $failures → $expected', ({ delayMs, maxDelayMs, failures, expected }) => {
    expect(nextDelay(failures, { delayMs, maxDelayMs })).toBe(expected);
  });
});

describe('formatDelay', () => {
  const matrix: Array<{ ms: number; expected: string }> = [
    { ms: 0, expected: '0ms' },
    { ms: 100, expected: '100ms' },
    { ms: 400, expected: '400ms' },
    { ms: 999, expected: '999ms' },
    { ms: 12.6, expected: '13ms' },
    { ms: 1_000, expected: '1.0s' },
    { ms: 1_600, expected: '1.6s' },
    { ms: 3_200, expected: '3.2s' },
    { ms: 12_800, expected: '12.8s' },
    { ms: 15_000, expected: '15.0s' },
  ];

  it.each(matrix)('$ms → $expected', ({ ms, expected }) => {
    expect(formatDelay(ms)).toBe(expected);
  });
});
