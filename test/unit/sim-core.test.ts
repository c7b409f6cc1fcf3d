// Issue 10: deterministic simulation of the supervisor core. fast-check drives thousands of random
// event sequences (workers crashing or killed at any moment, hung and memory-hungry workers, forks
// that fail, reloads to good, broken, slow and never-ready code, scale, restart, stop, time
// passing) against the real core on a fake cluster and clock, and checks invariants after every
// step and at quiescence (test/helpers/simulation.ts). A failing sequence shrinks to a minimal
// one: keep it in sim-regressions.test.ts. NSUP_SIM_RUNS, NSUP_SIM_SEED and NSUP_SIM_LENGTH (actions per sequence) repeat or widen a run.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actionArb, scenarioArb, simulate } from '../helpers/simulation.ts';

describe('issue 10: simulation of the core', () => {
  it('no random sequence of events loses a worker, doubles one, leaks one or leaves a request unanswered', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, fc.array(actionArb, { maxLength: Number(process.env.NSUP_SIM_LENGTH ?? 40) }), async (scenario, actions) => {
        const problems = await simulate(scenario, actions);
        expect(problems).toEqual([]);
      }),
      { numRuns: Number(process.env.NSUP_SIM_RUNS ?? 1500), ...(process.env.NSUP_SIM_SEED ? { seed: Number(process.env.NSUP_SIM_SEED) } : {}) },
    );
  }, 120_000);
});
