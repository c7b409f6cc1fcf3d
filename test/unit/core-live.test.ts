// Issue 15 in the core, in-process against the fake cluster and clock: each worker's live figures
// as it reports them (checked, never lowering its request count), the status document's `live`
// and `reloads`, and an app's reload history capped at its last 20, oldest first, rollbacks with
// their reason.
import { describe, expect, it } from 'vitest';
import { snapshot } from '../../src/control/snapshot.ts';
import type { UsageSampler } from '../../src/metrics/usage.ts';
import { RELOAD_HISTORY } from '../../src/supervisor/model.ts';
import { simConfig, startSim, type Sim } from '../helpers/fake-cluster.ts';

const settle = () => new Promise((resolve) => setImmediate(resolve));
const usage = { get: () => ({ rssBytes: null, cpuPercent: null }) } as unknown as UsageSampler;
const status = (sim: Sim) => snapshot(sim.supervisor, usage, { config: null, mode: 'foreground' }).apps[0]!;

async function reload(sim: Sim, code: 'good' | 'crash'): Promise<void> {
  const done = sim.supervisor.reloadApp('web', sim.withCode('web', code), code === 'good' ? 'test' : 'bad deploy');
  for (let i = 0; i < 100; i++) {
    sim.clock.advance(100);
    await settle();
  }
  await done;
}

describe('issue 15: live figures and reload history in the core', () => {
  it("keeps each worker's last report: null before it, the figures after, a request count that never goes down", () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2 }]));
    sim.clock.advance(100);
    expect(status(sim).workers.map((w) => w.live)).toEqual([null, null]);
    const [first, second] = sim.cluster.live();
    const report = (requests: number, extra: Record<string, unknown>) => ({ nsup: 1, type: 'connections', inFlight: 1, keepAlive: 2, websocket: 0, stream: 0, requests, live: { reqPerSec: 12.5, elu: 0.25, eventLoopDelayMs: { p50: 0.1, p99: 3, max: 7 }, ...extra } });
    first!.sink.message(report(40, {}));
    second!.sink.message(report(9, { elu: 7, reqPerSec: -1, eventLoopDelayMs: 'x' }));
    const [w0, w1] = status(sim).workers;
    expect(w0!.live).toEqual({ requests: 40, reqPerSec: 12.5, elu: 0.25, eventLoopDelayMs: { p50: 0.1, p99: 3, max: 7 } });
    // A report from the app's process is checked: elu at most 1, no negative rate, delays as 0.
    expect(w1!.live).toEqual({ requests: 9, reqPerSec: 0, elu: 1, eventLoopDelayMs: { p50: 0, p99: 0, max: 0 } });
    expect(w0!.connections).toEqual({ inFlight: 1, keepAlive: 2, websocket: 0, stream: 0 });
    first!.sink.message(report(38, { reqPerSec: 0 }));
    expect(status(sim).workers[0]!.live).toMatchObject({ requests: 40, reqPerSec: 0 });
    // Without maxRequests the maxRequests fields stay null: the count is in `live`.
    expect(status(sim).workers[0]!.requests).toBeNull();
  });

  it(`keeps an app's last ${RELOAD_HISTORY} reloads, oldest first, a rollback with its reason`, async () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2 }]));
    sim.clock.advance(100);
    expect(status(sim).reloads).toEqual([]);
    for (let i = 0; i < RELOAD_HISTORY + 2; i++) await reload(sim, 'good');
    await reload(sim, 'crash');
    const reloads = status(sim).reloads!;
    expect(reloads).toHaveLength(RELOAD_HISTORY);
    // 22 good ones to generations 2..23, then the rollback (generation 24 tried): the first 3 fell off.
    expect(reloads.map((r) => r.generation)).toEqual(Array.from({ length: RELOAD_HISTORY }, (_, i) => i + 5));
    expect(reloads.slice(0, -1).every((r) => r.ok && r.trigger === 'test' && r.reason === undefined)).toBe(true);
    const last = reloads.at(-1)!;
    expect(last).toMatchObject({ ok: false, trigger: 'bad deploy', generation: 24 });
    expect(last.reason).toMatch(/exited before it was up/);
    for (const r of reloads) {
      expect(r.durationMs).toBeGreaterThan(0);
      expect(new Date(r.startedAt).toISOString()).toBe(r.startedAt);
    }
    expect(Date.parse(reloads[1]!.startedAt)).toBeGreaterThan(Date.parse(reloads[0]!.startedAt));
    expect(status(sim).generation).toBe(23);
  });
});
