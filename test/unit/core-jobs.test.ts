// Issue 16: scheduled jobs in the real core, on the fake clock and a fake job runner. Jobs belong to
// the app, not to a generation or a worker: each tick runs exactly once across reloads and crash
// loops; `nsup run` gets an outcome; only a stop (the app's or nsup's) ends a run, and nsup exits
// only once it is gone.
import { describe, expect, it } from 'vitest';
import { ledgerKey, type JobRunOutcome } from '../../src/jobs/model.ts';
import { simConfig, startSim, type Sim } from '../helpers/fake-cluster.ts';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A job every second; its fake process reads DURATION ('stuck': never ends), IGNORE_TERM and EXIT from its env. */
function job(env: Record<string, string> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'tick', schedule: '* * * * * *', script: './http-ok.js', env, ...extra };
}

function startedTicks(sim: Sim): number[] {
  return sim.jobs.procs.filter((p) => p.run.trigger === 'schedule').map((p) => p.run.tick!);
}

function runJob(sim: Sim, app: string, name: string): { outcome: JobRunOutcome | null } {
  const box: { outcome: JobRunOutcome | null } = { outcome: null };
  void sim.supervisor.runJob(app, name).then((o) => (box.outcome = o));
  return box;
}

describe('issue 16: jobs in the core', () => {
  it('runs an every-second job exactly once per tick across two reloads and a crash loop', async () => {
    const sim = startSim(simConfig([{ name: 'web', instances: 2, restart: { delay: '100ms', maxDelay: '400ms' }, jobs: [job()] }]));
    const start = sim.supervisor.startedAt.getTime();
    sim.clock.advance(2500);
    void sim.supervisor.reloadApp('web', sim.withCode('web', 'good'), 'test');
    sim.clock.advance(2000);
    sim.cluster.brokenEnv = true;
    for (const proc of sim.cluster.live()) sim.cluster.exit(proc, 1, null);
    sim.clock.advance(2000);
    expect(sim.model.apps.get('web')!.state).toBe('crash-loop');
    sim.cluster.brokenEnv = false;
    sim.clock.advance(1000);
    void sim.supervisor.reloadApp('web', sim.withCode('web', 'good'), 'test');
    sim.clock.advance(2500);
    await settle();
    sim.clock.advance(100);
    const ticks = startedTicks(sim);
    expect(ticks).toEqual(Array.from({ length: 10 }, (_, i) => start + 1000 * (i + 1)));
    expect(sim.jobs.procs.every((p) => p.signals.length === 0)).toBe(true);
    expect(sim.grep('"event":"job.done"')).toHaveLength(10);
  });

  it('nsup run: the outcome of a run, a refusal while busy with skip, an unknown job or app, a start that fails', async () => {
    const sim = startSim(simConfig([
      { name: 'web', jobs: [job({ EXIT: '3' }, { schedule: '0 0 1 1 *' }), job({ DURATION: 'stuck' }, { name: 'long', schedule: '0 0 1 1 *' })] },
    ]));
    sim.clock.advance(100);
    const done = runJob(sim, 'web', 'tick');
    sim.clock.advance(100);
    await settle();
    expect(done.outcome).toMatchObject({ ok: true, result: { job: 'tick', trigger: 'manual', tick: null, code: 3, ok: false } });
    const long = runJob(sim, 'web', 'long');
    const again = runJob(sim, 'web', 'long');
    sim.clock.advance(100);
    await settle();
    expect(long.outcome).toBeNull();
    expect(again.outcome).toMatchObject({ ok: false, reason: expect.stringMatching(/long is running .*overlap is 'skip'/) });
    expect(await sim.supervisor.runJob('web', 'nope')).toMatchObject({ ok: false, unknownJob: true, reason: expect.stringMatching(/no job 'nope'.*tick, long/) });
    expect(await sim.supervisor.runJob('api', 'tick')).toMatchObject({ ok: false, reason: expect.stringMatching(/no app named 'api'/) });
    sim.jobs.startFails = true;
    const failed = runJob(sim, 'web', 'tick');
    sim.clock.advance(10);
    await settle();
    expect(failed.outcome).toMatchObject({ ok: true, result: { ok: false, reason: expect.stringMatching(/EAGAIN/) } });
  });

  it('a supervisor stop SIGTERMs a run, SIGKILLs it after killTimeout, and exits only once it is gone', async () => {
    const sim = startSim(simConfig([{ name: 'web', killTimeout: '2s', jobs: [job({ DURATION: 'stuck', IGNORE_TERM: '1' })] }]));
    sim.clock.advance(1100);
    const [proc] = sim.jobs.live();
    expect(proc).toBeDefined();
    sim.supervisor.enqueue({ type: 'stop', source: 'SIGTERM' });
    sim.clock.advance(10);
    expect(proc!.signals).toEqual(['SIGTERM']);
    sim.clock.advance(1500);
    await settle();
    // Every worker is gone by now; the job holds the exit.
    expect(sim.cluster.live()).toEqual([]);
    expect(sim.exitCode).toBeNull();
    sim.clock.advance(600);
    await settle();
    expect(proc!.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(proc!.alive).toBe(false);
    expect(sim.exitCode).toBe(0);
    // Nothing started after the stop began.
    expect(sim.jobs.procs).toHaveLength(1);
  });

  it('an app stop ends its job run and the app goes once the run is gone; a reload or a restart never touches it', async () => {
    const sim = startSim(simConfig([{ name: 'web', jobs: [job({ DURATION: 'stuck', IGNORE_TERM: '1' })] }, { name: 'api' }]));
    sim.clock.advance(1100);
    const [proc] = sim.jobs.live();
    void sim.supervisor.reloadApp('web', sim.withCode('web', 'good'), 'test');
    sim.clock.advance(300);
    const restarted = sim.supervisor.appOp('web', 'restart');
    sim.clock.advance(300);
    expect(await restarted).toMatchObject({ ok: true });
    expect(proc!.signals).toEqual([]);
    expect(sim.jobs.live()).toEqual([proc]);
    const stopped = sim.supervisor.appOp('web', 'stop');
    sim.clock.advance(100);
    expect(proc!.signals).toEqual(['SIGTERM']);
    expect(sim.model.apps.has('web')).toBe(true);
    sim.clock.advance(5000);
    expect(await stopped).toMatchObject({ ok: true });
    expect(proc!.alive).toBe(false);
    expect(sim.model.apps.has('web')).toBe(false);
    expect(sim.jobs.procs.filter((p) => p.app === 'web')).toHaveLength(1);
  });

  it('reports ticks missed while nsup was down once, and never replays them', () => {
    const time = 1_700_000_000_000;
    const config = simConfig([{ name: 'web', jobs: [job()] }]);
    const lastTicks = new Map([[ledgerKey('web', config.apps[0]!.jobs[0]!), time - 10_000]]);
    const sim = startSim(config, { time, lastTicks });
    sim.clock.advance(2500);
    const missed = sim.logs().filter((l) => l.event === 'job.missed');
    expect(missed).toHaveLength(1);
    expect(missed[0]).toMatchObject({ reason: 'down', job: 'tick' });
    expect(startedTicks(sim)).toEqual([time + 1000, time + 2000]);
  });
});
