// Issue 10: the core reconciles. Sequences of events that each work alone, run in-process against
// a fake cluster and clock: the slot of a worker killed mid-reload is refilled, a slot in backoff
// survives a failed reload, nothing waits on a 24.9-day timer, a failing fork is a failed start.
import { describe, expect, it } from 'vitest';
import type { ReloadResult } from '../../src/supervisor/model.ts';
import { simConfig, startSim, timerMatchesDeadline, type Sim } from '../helpers/fake-cluster.ts';

const DAY = 24 * 3600 * 1000;

/** Workers of `app` that are up in the serving generation, by slot. */
function upSlots(sim: Sim, app = 'web'): number[] {
  const model = sim.model.apps.get(app)!;
  return model.slots.map((_, slot) => slot).filter((slot) => sim.supervisor.upSlots(model).has(slot));
}

function reload(sim: Sim, code: 'good' | 'crash' | 'slow' | 'never', app = 'web'): { result: ReloadResult | null } {
  const box: { result: ReloadResult | null } = { result: null };
  void sim.supervisor.reloadApp(app, sim.withCode(app, code), 'test').then((r) => (box.result = r));
  return box;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('issue 10: the core reconciles', () => {
  it('starts every slot and keeps exactly one timer for the next deadline', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 3 }]));
    sim.clock.advance(100);
    expect(upSlots(sim)).toEqual([0, 1, 2]);
    expect(sim.model.apps.get('web')!.state).toBe('running');
    expect(timerMatchesDeadline(sim)).toBeNull();
    expect(sim.clock.coreTimers()).toEqual([]);
  });

  it('refills the slot of an old worker SIGKILLed while its replacement starts, when the reload then rolls back', async () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2, listenTimeout: '2s' }]));
    sim.clock.advance(100);
    const box = reload(sim, 'never');
    sim.clock.advance(10);
    const old0 = sim.cluster.live().find((p) => p.request.generation === 1 && p.request.slot === 0)!;
    sim.cluster.exit(old0, null, 'SIGKILL');
    sim.clock.advance(3000);
    await settle();
    expect(box.result).toMatchObject({ ok: false });
    expect(box.result!.reason).toMatch(/not up within listenTimeout 2.0s: online, has not listened after 2.0s/);
    sim.clock.advance(1000);
    expect(upSlots(sim)).toEqual([0, 1]);
    expect(sim.cluster.live().map((p) => p.request.generation)).toEqual([1, 1]);
  });

  it('keeps retrying a slot in crash-loop backoff through a reload that rolls back, and recovers once the cause is gone', async () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2, restart: { delay: '100ms', maxDelay: '400ms' } }]));
    sim.clock.advance(100);
    sim.cluster.brokenEnv = true;
    sim.cluster.exit(sim.cluster.live().find((p) => p.request.slot === 1)!, 1, null);
    sim.clock.advance(500);
    expect(sim.model.apps.get('web')!.state).toBe('crash-loop');
    const box = reload(sim, 'crash');
    sim.clock.advance(1000);
    await settle();
    expect(box.result).toMatchObject({ ok: false });
    sim.cluster.brokenEnv = false;
    sim.clock.advance(1000);
    expect(upSlots(sim)).toEqual([0, 1]);
    expect(sim.model.apps.get('web')!.state).toBe('running');
  });

  it('a successful reload ends a crash loop: the new generation comes up in every slot', async () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2, restart: { delay: '100ms', maxDelay: '400ms' } }]));
    sim.clock.advance(100);
    sim.cluster.brokenEnv = true;
    sim.cluster.exit(sim.cluster.live().find((p) => p.request.slot === 1)!, 1, null);
    sim.clock.advance(500);
    sim.cluster.brokenEnv = false;
    const box = reload(sim, 'good');
    sim.clock.advance(1000);
    await settle();
    expect(box.result).toMatchObject({ ok: true, generation: 2 });
    expect(sim.cluster.live().map((p) => p.request.generation)).toEqual([2, 2]);
    expect(sim.model.apps.get('web')!.slots.map((s) => s.failures)).toEqual([0, 0]);
  });

  it('runs for 30 days without a stop, a STOPPING notice or a busy timer', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 1 }]));
    let stopping = 0;
    sim.supervisor.onStopping(() => stopping++);
    let up: boolean | null = null;
    void sim.supervisor.whenUp('all').then((value) => (up = value));
    sim.clock.advance(100);
    for (let day = 0; day < 30; day++) sim.clock.advance(DAY);
    expect(stopping).toBe(0);
    expect(sim.supervisor.isStopping).toBe(false);
    expect(sim.grep('supervisor.stopping')).toEqual([]);
    expect(sim.clock.coreTimers()).toEqual([]);
    expect(up).toBe(null); // resolved in a microtask: checked below
    return Promise.resolve().then(() => expect(up).toBe(true));
  });

  it('a deadline beyond 2^31 ms is waited for in steps, not acted on early', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 1, restart: { delay: '40d', maxDelay: '40d' } }]));
    sim.clock.advance(100);
    sim.cluster.exit(sim.cluster.live()[0]!, 1, null);
    sim.clock.advance(25 * DAY);
    expect(sim.cluster.live()).toEqual([]);
    expect(timerMatchesDeadline(sim)).toBeNull();
    sim.clock.advance(16 * DAY);
    expect(sim.cluster.live()).toHaveLength(1);
  });

  it('a fork that throws is a failed start: logged, backed off, retried, and the primary goes on', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2, restart: { delay: '100ms', maxDelay: '400ms' } }]), { start: false });
    sim.cluster.spawnFails = true;
    sim.supervisor.start();
    sim.clock.advance(1000);
    expect(sim.grep('"event":"worker.spawn-failed"').length).toBeGreaterThan(2);
    expect(sim.grep('supervisor.error')).toEqual([]);
    expect(sim.model.apps.get('web')!.state).toBe('crash-loop');
    sim.cluster.spawnFails = false;
    sim.clock.advance(1000);
    expect(upSlots(sim)).toEqual([0, 1]);
  });

  it('an exception in a listener is contained: logged as supervisor.error, supervising goes on', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 1 }]));
    let calls = 0;
    sim.supervisor.onAppState(() => {
      calls++;
      throw new Error('listener bug');
    });
    sim.clock.advance(100);
    sim.cluster.exit(sim.cluster.live()[0]!, 1, null);
    sim.clock.advance(1000);
    expect(calls).toBeGreaterThan(0);
    expect(sim.grep('"event":"supervisor.error"').length).toBeGreaterThan(0);
    expect(upSlots(sim)).toEqual([0]);
    expect(sim.exitCode).toBeNull();
  });

  it('a core that fails on every event drains every worker and exits 1 instead of dying with them', async () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2, killTimeout: '1s' }]));
    sim.clock.advance(100);
    const procs = sim.cluster.live();
    // Corrupt the table: from now on every reconcile pass throws.
    (sim.model.apps.get('web') as { slots: unknown }).slots = null;
    for (let i = 0; i < 3; i++) sim.supervisor.enqueue({ type: 'tick' });
    expect(sim.grep('"event":"supervisor.error"').length).toBeGreaterThanOrEqual(3);
    expect(sim.grep('"fatal":true')).toHaveLength(1);
    expect(procs.every((p) => p.draining)).toBe(true);
    sim.clock.advance(100);
    await settle();
    expect(sim.cluster.live()).toEqual([]);
    expect(sim.exitCode).toBe(1);
  });

  it('a stop drains every worker in parallel, SIGKILLs a hung one at its kill timeout, and ends with exit code 0', async () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2, killTimeout: '1s' }]));
    sim.clock.advance(100);
    sim.cluster.live()[0]!.hung = true;
    sim.supervisor.enqueue({ type: 'stop', source: 'SIGTERM' });
    sim.clock.advance(100);
    expect(sim.cluster.live()).toHaveLength(1);
    sim.clock.advance(1000);
    await settle();
    expect(sim.cluster.live()).toEqual([]);
    expect(sim.exitCode).toBe(0);
    expect(sim.cluster.procs[0]!.signals).toEqual(['SIGKILL']);
  });

  it('a worker killed after serving for a second comes back at once, every time; one that dies right after start backs off', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 1 }]));
    sim.clock.advance(1100);
    sim.cluster.exit(sim.cluster.live()[0]!, null, 'SIGKILL');
    expect(sim.logs().filter((l) => l.event === 'worker.restart').map((l) => l.delayMs)).toEqual([0]);
    sim.clock.advance(1100);
    sim.cluster.exit(sim.cluster.live()[0]!, null, 'SIGKILL');
    expect(sim.logs().filter((l) => l.event === 'worker.restart').map((l) => [l.delayMs, l.attempt])).toEqual([[0, 1], [0, 2]]);
    sim.clock.advance(100);
    sim.cluster.exit(sim.cluster.live()[0]!, null, 'SIGKILL');
    sim.clock.advance(500);
    sim.cluster.exit(sim.cluster.live()[0]!, 1, null);
    expect(sim.logs().filter((l) => l.event === 'worker.restart').map((l) => l.delayMs)).toEqual([0, 0, 400, 800]);
  });

  it('replaces a worker above maxMemory through the rolling path; a failing replacement leaves the old one serving', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 1, maxMemory: '100MB', restart: { delay: '100ms', maxDelay: '1s' } }]));
    sim.clock.advance(100);
    const old = sim.cluster.live()[0]!;
    sim.cluster.brokenEnv = true;
    sim.supervisor.enqueue({ type: 'usage', rssByPid: new Map([[old.pid, 200 * 1024 * 1024]]) });
    sim.clock.advance(100);
    expect(sim.grep('worker.replace-failed')).toHaveLength(1);
    expect(old.alive).toBe(true);
    sim.cluster.brokenEnv = false;
    sim.clock.advance(1000);
    expect(old.alive).toBe(false);
    expect(upSlots(sim)).toEqual([0]);
    expect(sim.grep('"event":"worker.replaced"')).toHaveLength(1);
  });

  it('replaces a hung worker (no heartbeat for heartbeatTimeout) and SIGKILLs it after its kill timeout', () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 1, heartbeatTimeout: '1s', killTimeout: '500ms' }]));
    sim.clock.advance(100);
    const old = sim.cluster.live()[0]!;
    old.hung = true;
    sim.clock.advance(1200);
    expect(sim.grep('"event":"worker.replace"')).toHaveLength(1);
    sim.clock.advance(600);
    expect(old.alive).toBe(false);
    expect(old.signals).toEqual(['SIGKILL']);
    expect(upSlots(sim)).toEqual([0]);
  });
});
