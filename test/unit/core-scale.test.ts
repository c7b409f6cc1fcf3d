// Issue 14 (scale): one reconcile pass must cost O(workers), not O(slots × workers). Asking "does
// slot i have a worker?" per slot scanned every worker for every slot, in the refill, the app state,
// the next deadline and the reload step, after every event: a reload of N workers (O(N) events)
// then cost O(N³). Counted here without timing: how often the pass reads a worker's `slot`.
import { describe, expect, it } from 'vitest';
import type { WorkerModel } from '../../src/supervisor/model.ts';
import { simConfig, startSim, type Sim } from '../helpers/fake-cluster.ts';

const N = 64;

/** Replace every worker's `slot` with a getter that counts its reads; returns the counter. */
function countSlotReads(sim: Sim): { reads: number } {
  const counter = { reads: 0 };
  for (const worker of sim.model.apps.get('web')!.workers as WorkerModel[]) {
    let slot = worker.slot;
    Object.defineProperty(worker, 'slot', {
      get: () => (counter.reads++, slot),
      set: (v: number) => (slot = v),
      enumerable: true,
      configurable: true,
    });
  }
  return counter;
}

describe('issue 14: a reconcile pass is linear in the workers', () => {
  it(`reads each of ${N} workers' slot a bounded number of times per event, idle and mid-reload`, async () => {
    const sim = startSim(simConfig([{ name: 'web', instances: N, listenTimeout: '1h' }]));
    sim.clock.advance(200);
    expect(sim.model.apps.get('web')!.state).toBe('running');

    // Idle: one event (a usage sample) and its pass.
    let counter = countSlotReads(sim);
    sim.supervisor.enqueue({ type: 'usage', rssByPid: new Map() });
    expect(counter.reads).toBeLessThan(10 * N);

    // Mid-reload, with the old generation and half the new one alive (about 1.5 N workers).
    void sim.supervisor.reloadApp('web', sim.withCode('web', 'good'), 'test');
    for (let i = 0; i < 200 && sim.model.apps.get('web')!.workers.length < 1.5 * N; i++) sim.clock.advance(5);
    counter = countSlotReads(sim);
    sim.supervisor.enqueue({ type: 'usage', rssByPid: new Map() });
    expect(counter.reads).toBeLessThan(15 * N);
  });
});
