// Issues 10 and 16: every sequence the simulation (sim-core.test.ts) found to break the core, shrunk by
// fast-check and kept as a named test, so the bug it found stays fixed.
import { describe, expect, it } from 'vitest';
import { simulate, type Action, type Scenario } from '../helpers/simulation.ts';

const one = (extra: Partial<Scenario['apps'][number]> = {}): Scenario => ({
  apps: [{ instances: 1, readyWhen: 'listening', twoPorts: false, heartbeat: false, maxMemory: false, maxRestarts: null, reloadBatch: 1, ...extra }],
});

const FOUND: Array<{ name: string; scenario: Scenario; actions: Action[] }> = [
  {
    name: 'a command that arrives after the supervisor stopped is still answered',
    scenario: one(),
    actions: [{ t: 'stop' }, { t: 'advance', ms: 28 }, { t: 'scale', app: 0, to: 0 }],
  },
  {
    name: 'a slot added while drains fill the process bound is recorded as a due restart, not left empty',
    scenario: one({ instances: 3, heartbeat: true }),
    actions: [{ t: 'hang', pick: 0 }, { t: 'advance', ms: 1019 }, { t: 'scale', app: 0, to: 1 }, { t: 'scale', app: 0, to: 2 }],
  },
  {
    // Issue 11: 'online' counted a worker up the moment its process ran, so a deploy that crashes
    // while loading its modules committed, retired the good worker and left the app in a crash loop.
    name: "readyWhen 'online': a reload to a version that crashes at boot rolls back",
    scenario: one({ readyWhen: 'online' }),
    actions: [{ t: 'reload', app: 0, code: 'crash' }],
  },
  {
    // Issue 16: the handover stopped the old worker after fillSlots had run, leaving its slot with no worker and no restart due.
    name: 'singleton: the slot a handover vacates is due (waiting for room), never simply empty',
    scenario: one({ singleton: true }),
    actions: [{ t: 'reload', app: 0, code: 'good' }],
  },
  {
    // Issue 16: the rollback came after fillSlots in the same pass, and no event followed: the app stayed without a worker.
    name: 'singleton: a rolled-back handover forks the serving generation again once the failed worker exited',
    scenario: one({ singleton: true }),
    actions: [{ t: 'reload', app: 0, code: 'crash' }],
  },
];

describe('issues 10, 11 and 16: sequences the simulation found', () => {
  for (const { name, scenario, actions } of FOUND) {
    it(name, async () => expect(await simulate(scenario, actions)).toEqual([]));
  }
});
