// Issue 16: recycling. maxRequests: each worker's limit is drawn at fork (maxRequests + a jitter
// in [0, maxRequestsJitter]) and passed to the spawner; the worker's recycle message makes the core
// replace it through the rolling path, one at a time per app, the old one draining only once the
// new one is up. recycle: a cron tick reaches onRecycle listeners once, never while stopping.
import { describe, expect, it } from 'vitest';
import { simConfig, startSim, type FakeProc, type Sim } from '../helpers/fake-cluster.ts';

/** A random source that returns these values in turn. */
function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

function upCount(sim: Sim, app = 'web'): number {
  return sim.model.apps.get(app)!.workers.filter((w) => w.upAt !== null && w.stopReason === null).length;
}

describe('issue 16: maxRequests', () => {
  it('draws each worker its limit, maxRequests + floor(random × (jitter + 1)), and passes it to the spawner', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 3, maxRequests: 100, maxRequestsJitter: 20 }]), { random: sequence([0, 0.5, 0.9999]) });
    sim.clock.advance(100);
    expect(sim.model.apps.get('web')!.workers.map((w) => w.requestLimit)).toEqual([100, 110, 120]);
    expect(sim.cluster.procs.map((p) => p.request.requestLimit)).toEqual([100, 110, 120]);
  });

  it('without maxRequests, no limit is drawn, and a stray recycle message changes nothing', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 1 }]));
    sim.clock.advance(100);
    expect(sim.cluster.procs[0]!.request.requestLimit).toBeNull();
    sim.cluster.procs[0]!.sink.message({ nsup: 1, type: 'recycle', requests: 5000 });
    sim.clock.advance(1000);
    expect(sim.cluster.procs).toHaveLength(1);
  });

  it('a worker at its limit is replaced: the old one drains (replace) only once the new one is up, and capacity holds', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2, maxRequests: 100 }]));
    sim.clock.advance(100);
    const foreign: unknown[] = [];
    sim.supervisor.onForeignMessage((_, message) => void foreign.push(message));
    const [old] = sim.cluster.live() as [FakeProc];
    sim.cluster.serve(old, 100);
    expect(sim.cluster.procs).toHaveLength(3);
    expect(old.draining).toBe(false);
    for (let i = 0; i < 20; i++) {
      sim.clock.advance(5);
      expect(upCount(sim)).toBeGreaterThanOrEqual(2);
    }
    expect(old.alive).toBe(false);
    expect(sim.grep('"event":"worker.replace"')[0]).toContain('served 100 requests (maxRequests 100)');
    expect(sim.grep('"event":"worker.replaced"')).toHaveLength(1);
    expect(sim.grep('"to":"stopping","reason":"replaced"')).toHaveLength(1);
    expect(sim.model.apps.get('web')!.counters.recycledRequests).toBe(1);
    expect(foreign).toEqual([]);
  });

  it('two workers at their limit are replaced one after the other, never both at once', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 3, maxRequests: 100, maxRequestsJitter: 50 }]), { random: sequence([0.1, 0.2, 0.3, 0, 0]) });
    sim.clock.advance(100);
    const [a, b] = sim.cluster.live() as [FakeProc, FakeProc];
    sim.cluster.serve(a, 200);
    sim.cluster.serve(b, 200);
    let most = 0;
    for (let i = 0; i < 40; i++) {
      sim.clock.advance(5);
      most = Math.max(most, sim.model.apps.get('web')!.workers.filter((w) => w.replaces !== null).length);
      expect(upCount(sim)).toBeGreaterThanOrEqual(3);
    }
    expect(most).toBe(1);
    expect(a.alive || b.alive).toBe(false);
    expect(sim.grep('"event":"worker.replaced"')).toHaveLength(2);
    expect(sim.cluster.live()).toHaveLength(3);
  });

  it('keeps the count reported in the connections message, and a replacement that fails is retried after a backoff', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 1, maxRequests: 100, restart: { delay: '100ms' } }]));
    sim.clock.advance(100);
    const [old] = sim.cluster.live() as [FakeProc];
    old.sink.message({ nsup: 1, type: 'connections', inFlight: 0, keepAlive: 1, websocket: 0, stream: 0, requests: 42 });
    expect(sim.model.apps.get('web')!.workers[0]!.requests).toBe(42);
    sim.cluster.brokenEnv = true;
    sim.cluster.serve(old, 100);
    sim.clock.advance(50);
    expect(sim.grep('"event":"worker.replace-failed"')).toHaveLength(1);
    sim.cluster.brokenEnv = false;
    sim.clock.advance(1000);
    expect(old.alive).toBe(false);
    expect(sim.cluster.live()).toHaveLength(1);
  });
});

describe('issue 16: recycle schedule', () => {
  it('calls onRecycle once per tick, and never while stopping', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 1, killTimeout: '5s', recycle: '*/2 * * * * *' }]));
    const calls: Array<{ app: string; pattern: string; at: number }> = [];
    sim.supervisor.onRecycle((app, pattern) => void calls.push({ app: app.name, pattern, at: sim.clock.now() }));
    sim.clock.advance(10_000);
    const start = sim.supervisor.startedAt.getTime();
    expect(calls.map((c) => c.at - start)).toEqual([2000, 4000, 6000, 8000, 10_000]);
    expect(calls[0]).toMatchObject({ app: 'web', pattern: '*/2 * * * * *' });
    expect(sim.model.apps.get('web')!.counters.recycleTicks).toBe(5);
    // A hung worker keeps the stop going for its kill timeout: no tick in it.
    sim.cluster.live()[0]!.hung = true;
    sim.supervisor.enqueue({ type: 'stop', source: 'SIGTERM' });
    sim.clock.advance(4000);
    expect(sim.exitCode).toBeNull();
    expect(calls).toHaveLength(5);
  });
});
