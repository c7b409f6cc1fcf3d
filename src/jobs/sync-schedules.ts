// Step 1 of the scheduled-work pass: the table follows the config, matched by value. A job whose
// name, schedule and zone stay the same keeps its next tick across a reload (no tick doubled or
// dropped); a changed schedule starts over from now; a removed job goes once its run has ended.
// The first sync (at start) also reports the ticks missed while nsup was down, once, never replayed.
import type { ResolvedJob } from '../config/define.ts';
import { iso, reportMissed } from './job-report.ts';
import { ledgerKey, type JobModel } from './model.ts';
import type { ScheduledApp, SchedulePass } from './reconcile-schedules.ts';
import { compileSchedule, type Schedule } from './schedule.ts';

/** Sync the jobs with app.config.jobs; `lastTicks` only on the first sync (the ledger's last tick per job). */
export function syncJobs(app: ScheduledApp, pass: SchedulePass, lastTicks: ReadonlyMap<string, number> | null): void {
  const s = app.scheduled;
  const { now } = pass;
  const log = pass.logger;
  const wanted = new Map(app.config.jobs.map((job) => [job.name, job]));
  for (const job of s.jobs) {
    const config = wanted.get(job.config.name);
    if (job.removed) continue;
    if (config === undefined) {
      job.removed = true;
      job.nextTick = null;
      for (const entry of job.queue.splice(0)) for (const waiter of entry.waiters) waiter({ ok: false, reason: `${app.name}/${job.config.name} was removed from the config` });
      const note = job.run ? `; its run (pid ${job.run.pid ?? '?'}) goes on to its end` : '';
      log.info({ event: 'job.removed', app: app.name, job: job.config.name }, `${app.name}/${job.config.name}: removed from the config${note}`);
    } else if (config.schedule === job.config.schedule && config.timezone === job.config.timezone) {
      // The next run takes the new config; a running run keeps its own (JobRun.config).
      job.config = config;
    } else {
      const from = describe(job.config);
      job.config = config;
      job.schedule = compileOrNever(app, pass, config);
      job.nextTick = job.schedule.next(now);
      log.info(
        { event: 'job.changed', app: app.name, job: config.name, schedule: config.schedule, timezone: config.timezone, next: iso(job.nextTick) },
        `${app.name}/${config.name}: schedule ${from} → ${describe(config)}; next run ${iso(job.nextTick) ?? 'never'}`,
      );
    }
  }
  const live = new Set(s.jobs.filter((job) => !job.removed).map((job) => job.config.name));
  for (const config of app.config.jobs) {
    if (live.has(config.name)) continue;
    const job = newJob(app, pass, config);
    s.jobs.push(job);
    log.info(
      { event: 'job.scheduled', app: app.name, job: config.name, schedule: config.schedule, timezone: config.timezone, next: iso(job.nextTick) },
      `${app.name}/${config.name}: scheduled ${describe(config)}; next run ${iso(job.nextTick) ?? 'never'}`,
    );
    const last = lastTicks?.get(ledgerKey(app.name, config));
    if (last === undefined) continue;
    const from = job.schedule.next(last);
    const to = job.schedule.previous(now);
    if (from !== null && to !== null && from <= to) reportMissed(app, pass, job, from, to, 'down');
  }
  s.jobsFrom = app.config.jobs;
}

/** Sync the recycle schedule with app.config.recycle, by value (a reload keeps its next tick). */
export function syncRecycle(app: ScheduledApp, pass: SchedulePass): void {
  const s = app.scheduled;
  const wanted = app.config.recycle;
  s.recycleFrom = wanted;
  const current = s.recycle;
  if (wanted === null) {
    if (current === null) return;
    s.recycle = null;
    pass.logger.info({ event: 'app.recycle-removed', app: app.name, pattern: current.pattern }, `${app.name}: no recycle schedule any more (was ${current.pattern})`);
    return;
  }
  if (current !== null && current.pattern === wanted.schedule && current.timezone === wanted.timezone) return;
  const schedule = compileOrNever(app, pass, { name: 'recycle', schedule: wanted.schedule, timezone: wanted.timezone });
  const next = schedule.next(pass.now);
  s.recycle = { pattern: wanted.schedule, timezone: wanted.timezone, schedule, next, last: current?.last ?? null, count: current?.count ?? 0 };
  pass.logger.info(
    { event: 'app.recycle-scheduled', app: app.name, pattern: wanted.schedule, timezone: wanted.timezone, next: iso(next) },
    `${app.name}: recycle (a rolling reload) on ${describe({ schedule: wanted.schedule, timezone: wanted.timezone })}; next ${iso(next) ?? 'never'}`,
  );
}

function newJob(app: ScheduledApp, pass: SchedulePass, config: ResolvedJob): JobModel {
  const schedule = compileOrNever(app, pass, config);
  return {
    config,
    schedule,
    nextTick: schedule.next(pass.now),
    queue: [],
    run: null,
    last: null,
    missed: null,
    removed: false,
    counters: { ok: 0, failed: 0, timedOut: 0, skipped: 0, missed: 0 },
  };
}

/** The config was validated (schema.ts checkSchedule); a pattern that still fails here must not stop the core: it never ticks. */
function compileOrNever(app: ScheduledApp, pass: SchedulePass, config: Pick<ResolvedJob, 'name' | 'schedule' | 'timezone'>): Schedule {
  try {
    return compileSchedule(config.schedule, config.timezone);
  } catch (err) {
    pass.logger.error(
      { event: 'job.invalid', app: app.name, job: config.name, schedule: config.schedule, err: err instanceof Error ? err.message : String(err) },
      `${app.name}/${config.name}: cannot use schedule '${config.schedule}' (${err instanceof Error ? err.message : String(err)}); it will not run`,
    );
    return { pattern: config.schedule, timezone: config.timezone, next: () => null, previous: () => null };
  }
}

function describe(job: Pick<ResolvedJob, 'schedule' | 'timezone'>): string {
  return job.timezone === null ? `'${job.schedule}'` : `'${job.schedule}' (${job.timezone})`;
}
