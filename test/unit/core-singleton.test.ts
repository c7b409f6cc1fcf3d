// Issue 16: `singleton: true`. One gate in budget() (a singleton app forks only when none of its
// processes is alive) and every fork path asks it: a reload hands over (old first, then new), a
// rollback re-forks the serving generation once the failed worker exited, a replacement is
// stop-first, a restart is sequential, and scale is refused. Each sequence records, at every fork,
// how many of the app's processes were alive: always 0.
import { describe, expect, it } from 'vitest';
import type { ResolvedApp } from '../../src/config/define.ts';
import type { ReloadResult } from '../../src/supervisor/model.ts';
import { simConfig, startSim, timerMatchesDeadline, type Sim } from '../helpers/fake-cluster.ts';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A singleton `web` whose every fork is checked: the live processes of the app at that moment. */
function singletonSim(extra: Record<string, unknown> = {}): { sim: Sim; liveAtFork: number[]; forks: Array<{ gen: number; at: number }> } {
  const sim = startSim(simConfig([{ name: 'web', singleton: true, killTimeout: '1s', listenTimeout: '2s', restart: { delay: '100ms' }, ...extra }]), { start: false });
  const liveAtFork: number[] = [];
  const forks: Array<{ gen: number; at: number }> = [];
  sim.cluster.onFork = (request) => {
    liveAtFork.push(sim.cluster.live().filter((p) => p.request.app.name === request.app.name).length);
    forks.push({ gen: request.generation, at: sim.clock.now() });
  };
  sim.supervisor.start();
  sim.clock.advance(100);
  return { sim, liveAtFork, forks };
}

function reload(sim: Sim, config: ResolvedApp): { result: ReloadResult | null } {
  const box: { result: ReloadResult | null } = { result: null };
  void sim.supervisor.reloadApp('web', config, 'test').then((r) => (box.result = r));
  return box;
}

describe('issue 16: singleton apps never run two processes', () => {
  it('reload: the old worker gets its shutdown and exits before the new generation forks', async () => {
    const { sim, liveAtFork, forks } = singletonSim();
    const old = sim.cluster.live()[0]!;
    const box = reload(sim, sim.withCode('web', 'good'));
    sim.clock.advance(1);
    // Draining, and nothing of generation 2 yet.
    expect(old.draining).toBe(true);
    expect(forks.filter((f) => f.gen === 2)).toEqual([]);
    sim.clock.advance(500);
    await settle();
    expect(box.result).toMatchObject({ ok: true, generation: 2 });
    expect(liveAtFork).toEqual([0, 0]);
    expect(sim.cluster.live().map((p) => p.request.generation)).toEqual([2]);
    expect(sim.grep('"step":"vacate"')).toHaveLength(1);
    expect(timerMatchesDeadline(sim)).toBeNull();
  });

  it('rollback: the serving generation forks again only once the failed new worker has exited', async () => {
    const { sim, liveAtFork, forks } = singletonSim();
    const box = reload(sim, sim.withCode('web', 'crash'));
    sim.clock.advance(500);
    await settle();
    expect(box.result).toMatchObject({ ok: false });
    expect(box.result!.reason).toMatch(/exited before it was up/);
    expect(forks.map((f) => f.gen)).toEqual([1, 2, 1]);
    expect(liveAtFork).toEqual([0, 0, 0]);
    expect(sim.grep('starts again once the failed worker has exited')).toHaveLength(1);
    expect(sim.cluster.live().map((p) => p.request.generation)).toEqual([1]);
    expect(sim.supervisor.upSlots(sim.model.apps.get('web')!)).toEqual(new Set([0]));
  });

  it('rollback of a new worker that never comes up: it is stopped, and the old generation forks after its exit', async () => {
    const { sim, liveAtFork, forks } = singletonSim();
    const box = reload(sim, sim.withCode('web', 'never'));
    sim.clock.advance(2100);
    await settle();
    expect(box.result).toMatchObject({ ok: false });
    sim.clock.advance(200);
    expect(forks.map((f) => f.gen)).toEqual([1, 2, 1]);
    expect(liveAtFork).toEqual([0, 0, 0]);
    expect(sim.model.apps.get('web')!.state).toBe('running');
  });

  it('a maxMemory replacement is stop-first: drained, then a new worker once it exited', () => {
    const { sim, liveAtFork } = singletonSim({ maxMemory: '100MB' });
    const old = sim.cluster.live()[0]!;
    sim.supervisor.enqueue({ type: 'usage', rssByPid: new Map([[old.pid, 500 * 1024 * 1024]]) });
    expect(old.draining).toBe(true);
    expect(sim.cluster.procs).toHaveLength(1);
    sim.clock.advance(200);
    expect(liveAtFork).toEqual([0, 0]);
    expect(old.alive).toBe(false);
    expect(sim.cluster.live()).toHaveLength(1);
    expect(sim.grep('singleton: draining it first, then starting the new one')).toHaveLength(1);
    expect(sim.supervisor.upSlots(sim.model.apps.get('web')!)).toEqual(new Set([0]));
  });

  it('a crash re-forks only after the exit, and a restart stops before it starts', async () => {
    const { sim, liveAtFork } = singletonSim();
    sim.cluster.exit(sim.cluster.live()[0]!, 1, null);
    sim.clock.advance(300);
    const result = sim.supervisor.appOp('web', 'restart');
    sim.clock.advance(300);
    expect(await result).toMatchObject({ ok: true });
    expect(liveAtFork).toEqual([0, 0, 0]);
  });

  it('scale to anything but 1 is refused, saying why', async () => {
    const { sim } = singletonSim();
    expect(await sim.supervisor.appOp('web', 'scale', { to: 3 })).toEqual({
      ok: false,
      app: 'web',
      message: 'web is a singleton (singleton: true): it runs exactly one worker, so it cannot be scaled to 3',
    });
    expect(await sim.supervisor.appOp('web', 'scale', { delta: 1 })).toMatchObject({ ok: false, message: /cannot be scaled to 2/ });
    expect(await sim.supervisor.appOp('web', 'scale', { to: 1 })).toMatchObject({ ok: true });
    expect(sim.cluster.live()).toHaveLength(1);
  });

  it('turning singleton on by reload drains every old worker first; turning it off hands over, then surges', async () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 3, killTimeout: '1s' }]), { start: false });
    const liveAtFork: number[] = [];
    sim.cluster.onFork = () => void liveAtFork.push(sim.cluster.live().length);
    sim.supervisor.start();
    sim.clock.advance(100);
    const on = reload(sim, Object.freeze({ ...sim.model.apps.get('web')!.config, instances: 1, singleton: true }));
    sim.clock.advance(500);
    await settle();
    expect(on.result).toMatchObject({ ok: true });
    expect(liveAtFork).toEqual([0, 1, 2, 0]);
    const off = reload(sim, Object.freeze({ ...sim.model.apps.get('web')!.config, instances: 2, singleton: false }));
    sim.clock.advance(500);
    await settle();
    expect(off.result).toMatchObject({ ok: true });
    // The singleton's worker went first; then the two new ones as a plain surge.
    expect(liveAtFork.slice(4)).toEqual([0, 1]);
    expect(sim.cluster.live()).toHaveLength(2);
  });
});
