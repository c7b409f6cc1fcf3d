// reconcile-schedules.ts: the pure pass over an app's scheduled work, as a table of state × event →
// effects and log events, on hand-built AppSchedules and a fake Pass (no Supervisor, no clock).
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ResolvedApp, ResolvedJob } from '../../src/config/define.ts';
import { resolveConfig } from '../../src/config/schema.ts';
import { emptySchedule, ledgerKey, type AppSchedule, type JobEffect, type JobRunOutcome } from '../../src/jobs/model.ts';
import { LATE_MS, MAX_QUEUED, observeJobExit, reconcileSchedules, runningJobs, scheduleDeadlines, type SchedulePass } from '../../src/jobs/reconcile-schedules.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));
const BASE = resolveConfig({ apps: [{ name: 'web', script: './http-ok.js', killTimeout: '2s' }] }, { file: null, baseDir: FIXTURES }).apps[0]!;
// A whole minute, so that '* * * * * *' ticks at T, T+1 s, …
const T = Date.UTC(2026, 0, 1, 12, 0, 0);

function job(over: Partial<ResolvedJob> = {}): ResolvedJob {
  return { name: 'backup', schedule: '* * * * * *', timezone: 'UTC', script: '/x/backup.js', args: [], nodeArgs: [], env: {}, timeoutMs: null, overlap: 'skip', ...over };
}

/** An app with these jobs, and a pass runner that records effects and log events. */
function harness(jobs: ResolvedJob[], extra: Partial<ResolvedApp> = {}, lastTicks: ReadonlyMap<string, number> = new Map()) {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  let key = 0;
  const app = { name: 'web', config: { ...BASE, ...extra, jobs } as ResolvedApp, scheduled: emptySchedule() as AppSchedule };
  const state = { stopping: false };
  const pass = (now: number): JobEffect[] => {
    const effects: JobEffect[] = [];
    const p: SchedulePass = { now, logger, effects, newKey: () => ++key };
    reconcileSchedules(app, p, { stopping: state.stopping, lastTicks });
    return effects;
  };
  const events = (name: string) => logs.filter((l) => l.event === name);
  const exit = (now: number, code = 0, signal: string | null = null) => {
    const run = app.scheduled.jobs[0]!.run!;
    observeJobExit(app.scheduled, { job: run.job, run: run.id, code, signal, output: ['line'] }, now);
  };
  return { app, pass, logs, events, exit, state, jobModel: () => app.scheduled.jobs[0]! };
}

const kinds = (effects: JobEffect[]) => effects.map((e) => (e.kind === 'job-signal' ? `signal ${e.signal}` : e.kind));

describe('reconcileSchedules: ticks', () => {
  it('idle + due → exactly one job-start for that tick; the next tick is the one after', () => {
    const h = harness([job()]);
    expect(h.pass(T - 500)).toEqual([]);
    expect(h.jobModel().nextTick).toBe(T);
    expect(h.events('job.scheduled')).toHaveLength(1);
    const effects = h.pass(T);
    expect(kinds(effects)).toEqual(['job-start']);
    const start = effects[0] as Extract<JobEffect, { kind: 'job-start' }>;
    expect(start.run).toMatchObject({ job: 'backup', tick: T, trigger: 'schedule', startedAt: T, pid: null });
    expect(start.appConfig).toBe(h.app.config);
    expect(h.jobModel().nextTick).toBe(T + 1000);
    expect(h.pass(T + 10)).toEqual([]);
    expect(runningJobs(h.app.scheduled)).toBe(1);
  });

  it("busy + overlap 'skip' → no start, one job.skipped line naming the ticks, counted", () => {
    const h = harness([job()]);
    h.pass(T - 500);
    h.pass(T);
    expect(h.pass(T + 3000)).toEqual([]);
    const skipped = h.events('job.skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ reason: 'overlap', ticks: [1, 2, 3].map((s) => new Date(T + s * 1000).toISOString()) });
    expect(h.jobModel().counters.skipped).toBe(3);
    expect(h.jobModel().nextTick).toBe(T + 4000);
  });

  it("busy + overlap 'queue' → queued in tick order, run one after the other; the 11th waiting is skipped 'queue-full'", () => {
    const h = harness([job({ overlap: 'queue' })]);
    h.pass(T - 500);
    h.pass(T);
    h.pass(T + (MAX_QUEUED + 1) * 1000);
    expect(h.jobModel().queue.map((q) => q.tick)).toEqual(Array.from({ length: MAX_QUEUED }, (_, i) => T + (i + 1) * 1000));
    expect(h.events('job.skipped')).toEqual([expect.objectContaining({ reason: 'queue-full', ticks: [new Date(T + (MAX_QUEUED + 1) * 1000).toISOString()] })]);
    h.exit(T + (MAX_QUEUED + 1) * 1000 + 100);
    const effects = h.pass(T + (MAX_QUEUED + 1) * 1000 + 100);
    expect(kinds(effects)).toEqual(['job-start']);
    expect((effects[0] as Extract<JobEffect, { kind: 'job-start' }>).run.tick).toBe(T + 1000);
    expect(h.events('job.done')).toHaveLength(1);
  });

  it('a tick more than LATE_MS late → one job.missed (late) for the range, and no start', () => {
    const h = harness([job()]);
    h.pass(T - 500);
    const now = T + LATE_MS + 5500;
    expect(h.pass(now)).toEqual([]);
    const missed = h.events('job.missed');
    expect(missed).toHaveLength(1);
    expect(missed[0]).toMatchObject({ reason: 'late', from: new Date(T).toISOString(), to: new Date(T + LATE_MS + 5000).toISOString(), count: 66 });
    expect(h.jobModel().missed).toEqual({ from: T, to: T + LATE_MS + 5000, reason: 'late' });
    expect(h.jobModel().nextTick).toBe(T + LATE_MS + 6000);
    expect(kinds(h.pass(T + LATE_MS + 6000))).toEqual(['job-start']);
  });

  it('a tick late by less than LATE_MS still runs (a busy loop, not a suspend)', () => {
    const h = harness([job({ schedule: '0 * * * * *' })]);
    h.pass(T - 500);
    expect(kinds(h.pass(T + LATE_MS - 1))).toEqual(['job-start']);
    expect(h.events('job.missed')).toHaveLength(0);
  });
});

describe('reconcileSchedules: exits, timeouts, stop', () => {
  it('an exit becomes the result (job.done, last, counters) and answers waiters', () => {
    const h = harness([job()]);
    h.pass(T - 500);
    h.pass(T);
    h.pass(T + 1000);
    h.exit(T + 1200, 0);
    h.pass(T + 1200);
    expect(h.jobModel().last).toMatchObject({ ok: true, code: 0, reason: 'exit 0', durationMs: 1200, tick: new Date(T).toISOString(), output: ['line'] });
    expect(h.events('job.done')[0]).toMatchObject({ level: 30, job: 'backup', trigger: 'schedule', code: 0, durationMs: 1200, timedOut: false });
    // The tick at T+1000 came while the run was busy: skipped; the next one, T+2000, starts.
    expect(kinds(h.pass(T + 2000))).toEqual(['job-start']);
    h.exit(T + 2100, 3);
    h.pass(T + 2100);
    expect(h.jobModel().last).toMatchObject({ ok: false, code: 3 });
    expect(h.events('job.done')[1]).toMatchObject({ level: 40 });
    expect(h.jobModel().counters).toMatchObject({ ok: 1, failed: 1, skipped: 1 });
  });

  it('timeout → SIGTERM (job.timeout); +killTimeout → SIGKILL (job.kill); the result says timed out', () => {
    const h = harness([job({ schedule: '0 0 * * * *', timeoutMs: 500 })]);
    h.pass(T - 500);
    h.pass(T);
    const deadlines: number[] = [];
    scheduleDeadlines(h.app.scheduled, 2000, false, (at) => at !== null && deadlines.push(at));
    expect(deadlines).toContain(T + 500);
    expect(h.pass(T + 499)).toEqual([]);
    expect(kinds(h.pass(T + 500))).toEqual(['signal SIGTERM']);
    expect(h.events('job.timeout')).toHaveLength(1);
    expect(h.pass(T + 2499)).toEqual([]);
    expect(kinds(h.pass(T + 2500))).toEqual(['signal SIGKILL']);
    expect(h.events('job.kill')).toHaveLength(1);
    expect(h.pass(T + 9000)).toEqual([]);
    h.exit(T + 2510, null as unknown as number, 'SIGKILL');
    h.pass(T + 2510);
    expect(h.jobModel().last).toMatchObject({ ok: false, timedOut: true, signal: 'SIGKILL' });
    expect(h.jobModel().last!.reason).toMatch(/^killed by SIGKILL after its 500ms timeout/);
    expect(h.jobModel().counters).toMatchObject({ timedOut: 1, failed: 0 });
  });

  it('stop → SIGTERM once, no start, queue dropped (manual waiters told), no tick deadlines; SIGKILL after killTimeout', () => {
    const h = harness([job({ overlap: 'queue' })]);
    h.pass(T - 500);
    h.pass(T);
    h.pass(T + 2000);
    const answers: JobRunOutcome[] = [];
    h.app.scheduled.inbox.push({ job: 'backup', finish: (o) => answers.push(o) });
    h.pass(T + 2000);
    expect(h.jobModel().queue).toHaveLength(3);
    h.state.stopping = true;
    expect(kinds(h.pass(T + 3000))).toEqual(['signal SIGTERM']);
    expect(h.jobModel().queue).toHaveLength(0);
    expect(answers).toEqual([{ ok: false, reason: 'web is stopping' }]);
    expect(h.pass(T + 4000)).toEqual([]);
    const deadlines: number[] = [];
    scheduleDeadlines(h.app.scheduled, 2000, true, (at) => at !== null && deadlines.push(at));
    expect(deadlines).toEqual([T + 5000]);
    expect(kinds(h.pass(T + 5000))).toEqual(['signal SIGKILL']);
    h.exit(T + 5010, null as unknown as number, 'SIGKILL');
    h.pass(T + 5010);
    expect(runningJobs(h.app.scheduled)).toBe(0);
    expect(h.jobModel().last!.reason).toBe('killed by SIGKILL (stopped with the app)');
  });
});

describe('reconcileSchedules: manual runs (nsup run)', () => {
  it('unknown job, idle, busy with skip, busy with queue; they never move nextTick', () => {
    const h = harness([job({ schedule: '0 0 4 * * *' }), job({ name: 'sync', schedule: '0 0 5 * * *', overlap: 'queue' })]);
    h.pass(T);
    const next = h.app.scheduled.jobs.map((j) => j.nextTick);
    const answers: JobRunOutcome[] = [];
    for (const name of ['nope', 'backup', 'backup', 'sync', 'sync']) h.app.scheduled.inbox.push({ job: name, finish: (o) => answers.push(o) });
    const effects = h.pass(T + 100);
    expect(answers[0]).toEqual({ ok: false, unknownJob: true, reason: "web has no job 'nope' (jobs: backup, sync)" });
    expect(answers[1]).toEqual({ ok: false, reason: "backup is running (pid ?, for 0ms); overlap is 'skip'" });
    expect(kinds(effects)).toEqual(['job-start', 'job-start']);
    expect(effects.map((e) => (e as Extract<JobEffect, { kind: 'job-start' }>).run.trigger)).toEqual(['manual', 'manual']);
    expect(h.app.scheduled.jobs[1]!.queue).toEqual([{ tick: null, waiters: [expect.any(Function)] }]);
    expect(h.app.scheduled.jobs.map((j) => j.nextTick)).toEqual(next);
    const run = h.app.scheduled.jobs[0]!.run!;
    observeJobExit(h.app.scheduled, { job: 'backup', run: run.id, code: 0, signal: null, output: [] }, T + 300);
    h.pass(T + 300);
    expect(answers[2]).toMatchObject({ ok: true, result: { ok: true, trigger: 'manual', tick: null } });
  });
});

describe('reconcileSchedules: sync with the config', () => {
  it('a reload with an equal schedule (new objects) keeps nextTick; a changed one recomputes; a removed job drops after its run', () => {
    const h = harness([job(), job({ name: 'sync', schedule: '*/5 * * * * *' })]);
    h.pass(T - 500);
    h.pass(T);
    expect(h.app.scheduled.jobs.map((j) => j.nextTick)).toEqual([T + 1000, T + 5000]);
    // Same name, schedule and zone, another object and another script: the tick is kept, the new config taken.
    h.app.config = { ...h.app.config, jobs: [job({ script: '/y/backup.js' }), job({ name: 'sync', schedule: '*/7 * * * * *' })] };
    // The reload's pass comes at the very tick: the kept tick is handled (skipped: busy), not dropped by a reset.
    h.pass(T + 1000);
    expect(h.events('job.skipped')).toEqual([expect.objectContaining({ job: 'backup', ticks: [new Date(T + 1000).toISOString()] })]);
    expect(h.app.scheduled.jobs.map((j) => j.nextTick)).toEqual([T + 2000, T + 7000]);
    expect(h.app.scheduled.jobs[0]!.config.script).toBe('/y/backup.js');
    expect(h.app.scheduled.jobs[0]!.run!.config.script).toBe('/x/backup.js');
    expect(h.events('job.changed')).toEqual([expect.objectContaining({ job: 'sync', schedule: '*/7 * * * * *' })]);
    // backup removed while it runs: no more ticks, its run goes on, then it is gone.
    h.app.config = { ...h.app.config, jobs: [job({ name: 'sync', schedule: '*/7 * * * * *' })] };
    expect(h.pass(T + 2000)).toEqual([]);
    expect(h.events('job.removed')).toHaveLength(1);
    expect(h.app.scheduled.jobs.map((j) => [j.config.name, j.removed])).toEqual([['backup', true], ['sync', false]]);
    h.exit(T + 2500);
    h.pass(T + 2500);
    expect(h.app.scheduled.jobs.map((j) => j.config.name)).toEqual(['sync']);
    expect(h.events('job.done')).toHaveLength(1);
  });

  it('the ledger: a last tick before a gap → one job.missed (down) over the gap, no replay; none without a gap', () => {
    const config = job({ schedule: '*/10 * * * * *' });
    const h = harness([config], {}, new Map([[ledgerKey('web', config), T - 60_000]]));
    expect(h.pass(T + 5000)).toEqual([]);
    expect(h.events('job.missed')).toEqual([expect.objectContaining({ reason: 'down', from: new Date(T - 50_000).toISOString(), to: new Date(T).toISOString(), count: 6 })]);
    expect(h.jobModel().nextTick).toBe(T + 10_000);
    h.pass(T + 6000);
    expect(h.events('job.missed')).toHaveLength(1);
    const fresh = harness([config], {}, new Map([[ledgerKey('web', config), T]]));
    fresh.pass(T + 5000);
    expect(fresh.events('job.missed')).toHaveLength(0);
    // Another schedule, another key: nothing to report.
    const changed = harness([job({ schedule: '*/5 * * * * *' })], {}, new Map([[ledgerKey('web', config), T - 60_000]]));
    changed.pass(T + 5000);
    expect(changed.events('job.missed')).toHaveLength(0);
  });
});

describe('reconcileSchedules: recycle', () => {
  it('one recycle effect per tick, app.recycle logged, none while stopping, kept across an equal re-sync', () => {
    const h = harness([], { recycle: { schedule: '*/3 * * * * *', timezone: null } });
    h.pass(T - 500);
    expect(h.app.scheduled.recycle!.next).toBe(T);
    expect(h.pass(T)).toEqual([{ kind: 'recycle', app: 'web', pattern: '*/3 * * * * *' }]);
    h.app.config = { ...h.app.config, recycle: { schedule: '*/3 * * * * *', timezone: null } };
    expect(h.pass(T + 1000)).toEqual([]);
    expect(h.app.scheduled.recycle!.next).toBe(T + 3000);
    expect(kinds(h.pass(T + 6000))).toEqual(['recycle', 'recycle']);
    expect(h.app.scheduled.recycle!.count).toBe(3);
    expect(h.events('app.recycle')).toHaveLength(3);
    h.state.stopping = true;
    expect(h.pass(T + 9000)).toEqual([]);
  });
});
