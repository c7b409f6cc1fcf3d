// Issue 17: restart.stopExitCodes (PM2's stop_exit_codes). A worker that exits by itself with one
// of these codes is done: its slot is not restarted, it is not a failure, and the app shows it
// (`done` slots, `stopped` once every slot is done) until a reload, scale or restart. The pure
// decision, the derived state, and sequences run in-process on the fake cluster and clock.
import { describe, expect, it } from 'vitest';
import { deriveAppState } from '../../src/supervisor/app-state.ts';
import { decideExit, type ExitFacts, type RestartPolicy } from '../../src/supervisor/backoff.ts';
import { snapshot } from '../../src/control/snapshot.ts';
import type { UsageSampler } from '../../src/metrics/usage.ts';
import { resolveConfig } from '../../src/config/schema.ts';
import { ConfigInvalidError } from '../../src/errors.ts';
import { formatStatus } from '../../src/cli/format-status.ts';
import { simConfig, startSim, timerMatchesDeadline, type Sim } from '../helpers/fake-cluster.ts';
import { simulate, type Scenario } from '../helpers/simulation.ts';

const policy: RestartPolicy = { delayMs: 100, maxDelayMs: 15_000, minUptimeMs: 30_000, maxRestarts: 3, stopExitCodes: [0, 42] };
const exit: ExitFacts = { stopReason: null, code: 42, uptimeMs: 50, upMs: null, failures: 0, shuttingDown: false };

describe('decideExit with stopExitCodes', () => {
  const matrix: Array<{ name: string; facts: Partial<ExitFacts>; codes?: number[]; expected: ReturnType<typeof decideExit> }> = [
    { name: 'a listed code right after start is done, not a failed start', facts: {}, expected: { kind: 'done', code: 42 } },
    { name: 'a listed code after a long uptime is done', facts: { uptimeMs: 3_600_000, upMs: 3_599_000 }, expected: { kind: 'done', code: 42 } },
    { name: 'code 0 when listed', facts: { code: 0 }, expected: { kind: 'done', code: 0 } },
    { name: 'a listed code past maxRestarts is still done (never a halt)', facts: { failures: 99 }, expected: { kind: 'done', code: 42 } },
    { name: 'an unlisted code is a failed start', facts: { code: 1 }, expected: { kind: 'restart', delayMs: 100, failures: 1 } },
    { name: 'a signal is a crash', facts: { code: null }, expected: { kind: 'restart', delayMs: 100, failures: 1 } },
    { name: 'without stopExitCodes, 42 is a crash', facts: {}, codes: [], expected: { kind: 'restart', delayMs: 100, failures: 1 } },
    { name: 'an exit nsup asked for stays none', facts: { stopReason: 'reload' }, expected: { kind: 'none' } },
    { name: 'while the supervisor stops: none', facts: { shuttingDown: true }, expected: { kind: 'none' } },
  ];
  it.each(matrix)('$name', ({ facts, codes, expected }) => {
    expect(decideExit({ ...exit, ...facts }, { ...policy, ...(codes ? { stopExitCodes: codes } : {}) })).toEqual(expected);
  });
});

describe('the app state with done slots', () => {
  const up = { up: true, failures: 0, halted: false };
  const done = { up: false, failures: 0, halted: false, done: true };
  const idle = { stopping: false, reloading: false };
  it.each([
    { name: 'every slot done: stopped', slots: [done, done], expected: 'stopped' },
    { name: 'one done, the others up: running', slots: [done, up], expected: 'running' },
    { name: 'a done slot with old failures is not a crash loop', slots: [{ ...done, failures: 5 }, up], expected: 'running' },
    { name: 'a halted slot next to a done one: errored', slots: [done, { up: false, failures: 3, halted: true }], expected: 'errored' },
  ])('$name', ({ slots, expected }) => expect(deriveAppState(slots, idle)).toBe(expected));
  it('a stop of the supervisor still shows stopping', () => expect(deriveAppState([done], { stopping: true, reloading: false })).toBe('stopping'));
  it('a reload of a stopped app shows reloading', () => expect(deriveAppState([done], { stopping: false, reloading: true })).toBe('reloading'));
});

describe('restart.stopExitCodes in the config', () => {
  const base = { file: null, baseDir: new URL('../fixtures/apps/', import.meta.url).pathname };
  it('defaults to none and takes exit codes', () => {
    expect(resolveConfig({ apps: [{ script: './http-ok.js' }] }, base).apps[0]!.restart.stopExitCodes).toEqual([]);
    expect(resolveConfig({ apps: [{ script: './http-ok.js', restart: { stopExitCodes: [0, 42] } }] }, base).apps[0]!.restart.stopExitCodes).toEqual([0, 42]);
  });
  it('refuses what is not an exit code, naming the key', () => {
    for (const [value, at] of [[42, 'apps[0].restart.stopExitCodes'], [[0, 256], 'apps[0].restart.stopExitCodes[1]'], [['42'], 'apps[0].restart.stopExitCodes[0]']] as const) {
      const error = (() => {
        try {
          resolveConfig({ apps: [{ script: './http-ok.js', restart: { stopExitCodes: value } }] }, base);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(error).toBeInstanceOf(ConfigInvalidError);
      expect((error as ConfigInvalidError).keyPath).toBe(at);
    }
  });
});

/** A two-worker app whose workers are done with exit code 42. */
function startDoneApp(instances = 2): Sim {
  const sim = startSim(simConfig([{ name: 'job', instances, restart: { delay: '100ms', stopExitCodes: [42] } }]));
  sim.clock.advance(100);
  return sim;
}

const live = (sim: Sim) => sim.cluster.live().map((p) => `${p.request.slot}/${p.request.generation}`).sort();
const usage = { get: () => ({ rssBytes: null, cpuPercent: null }) } as unknown as UsageSampler;

describe('issue 17: a worker done with a stop exit code (in-process core)', () => {
  it('is not restarted, not a failure, and shows as done; the app is stopped once every slot is done', () => {
    const sim = startDoneApp();
    const forks = sim.cluster.procs.length;
    sim.cluster.exit(sim.cluster.live().find((p) => p.request.slot === 1)!, 42, null);
    sim.clock.advance(60_000);
    const app = sim.model.apps.get('job')!;
    expect(sim.cluster.procs.length).toBe(forks);
    expect(app.slots[1]).toMatchObject({ doneWith: 42, retryAt: null, failures: 0, restarts: 0 });
    expect(app.lastFailure).toBeNull();
    expect(app.state).toBe('running');
    expect(sim.grep('"event":"worker.done"')).toHaveLength(1);
    expect(timerMatchesDeadline(sim)).toBeNull();
    const status = snapshot(sim.supervisor, usage, { config: null, mode: 'foreground' }).apps[0]!;
    expect(status.workers.map((w) => [w.id, w.state, w.exitCode])).toEqual([[0, 'listening', null], [1, 'done', 42]]);
    expect(formatStatus({ supervisors: [{ ...snapshot(sim.supervisor, usage, { config: null, mode: 'foreground' }) }] }, { color: false })).toMatch(/worker 1 done: exited with code 42/);

    sim.cluster.exit(sim.cluster.live()[0]!, 42, null);
    sim.clock.advance(1000);
    expect(app.state).toBe('stopped');
    expect(sim.cluster.live()).toEqual([]);
    // The supervisor stays: a reload, scale or restart starts the app again.
    expect(sim.exitCode).toBeNull();
  });

  it('a scale starts done slots again (to the same count, or another)', async () => {
    const sim = startDoneApp();
    for (const proc of sim.cluster.live()) sim.cluster.exit(proc, 42, null);
    sim.clock.advance(100);
    let message = '';
    void sim.supervisor.appOp('job', 'scale', { to: 2 }).then((r) => (message = r.message));
    sim.clock.advance(100);
    await new Promise((resolve) => setImmediate(resolve));
    expect(message).toMatch(/2 done workers started again/);
    expect(live(sim)).toEqual(['0/1', '1/1']);
    expect(sim.model.apps.get('job')!.state).toBe('running');
  });

  it('a reload and a restart start done slots again, in a new generation', async () => {
    const sim = startDoneApp();
    for (const proc of sim.cluster.live()) sim.cluster.exit(proc, 42, null);
    sim.clock.advance(100);
    let ok: boolean | null = null;
    void sim.supervisor.reloadApp('job', sim.withCode('job', 'good'), 'test').then((r) => (ok = r.ok));
    sim.clock.advance(500);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ok).toBe(true);
    expect(live(sim)).toEqual(['0/2', '1/2']);
    for (const proc of sim.cluster.live()) sim.cluster.exit(proc, 42, null);
    sim.clock.advance(100);
    void sim.supervisor.appOp('job', 'restart');
    sim.clock.advance(500);
    expect(live(sim)).toEqual(['0/3', '1/3']);
  });

  it('a crash (exit 1) is still restarted, and exit 42 of an app without stopExitCodes too', () => {
    const sim = startDoneApp(1);
    sim.cluster.exit(sim.cluster.live()[0]!, 1, null);
    sim.clock.advance(500);
    expect(live(sim)).toEqual(['0/1']);
    const plain = startSim(simConfig([{ name: 'web', instances: 1, restart: { delay: '100ms' } }]));
    plain.clock.advance(100);
    plain.cluster.exit(plain.cluster.live()[0]!, 42, null);
    plain.clock.advance(500);
    expect(plain.cluster.live()).toHaveLength(1);
    expect(plain.model.apps.get('web')!.slots[0]!.doneWith).toBeNull();
  });

  it('a stop of the supervisor with done slots exits 0', async () => {
    const sim = startDoneApp();
    sim.cluster.exit(sim.cluster.live()[0]!, 42, null);
    sim.clock.advance(100);
    sim.supervisor.enqueue({ type: 'stop', source: 'SIGTERM' });
    sim.clock.advance(1000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sim.exitCode).toBe(0);
  });
});

describe('issue 17: stop exit code sequences through the simulation invariants', () => {
  const scenario: Scenario = { apps: [{ instances: 2, readyWhen: 'listening', twoPorts: false, heartbeat: true, maxMemory: true, maxRestarts: 2, reloadBatch: 1, stopExitCodes: true }] };
  it.each([
    { name: 'done, then a reload that rolls back: the slot stays done', actions: [{ t: 'kill', pick: 0, signal: 'done' }, { t: 'reload', app: 0, code: 'crash' }] },
    { name: 'done while a reload surges', actions: [{ t: 'reload', app: 0, code: 'slow' }, { t: 'advance', ms: 30 }, { t: 'kill', pick: 0, signal: 'done' }, { t: 'advance', ms: 3000 }] },
    { name: 'the old worker is done while its replacement starts', actions: [{ t: 'advance', ms: 100 }, { t: 'memory', pick: 0 }, { t: 'advance', ms: 1 }, { t: 'kill', pick: 0, signal: 'done' }] },
    { name: 'every slot done, then scaled up', actions: [{ t: 'kill', pick: 0, signal: 'done' }, { t: 'kill', pick: 0, signal: 'done' }, { t: 'scale', app: 0, to: 3 }] },
  ] as Array<{ name: string; actions: Parameters<typeof simulate>[1] }>)('$name', async ({ actions }) => {
    expect(await simulate(scenario, actions)).toEqual([]);
  });
});
