// The pass over an app's scheduled work (AppModel.scheduled), pure like the rest of the core's
// reconcile: it reads the pass's `now`, writes the table and pushes effects, and nothing else (no
// I/O, no Date.now, no timers). Every tick value is handled in exactly one pass: `nextTick` only
// moves forward, and each tick it passes is started, queued, skipped or missed, and logged.
import type { ResolvedApp } from '../config/define.ts';
import type { Logger } from '../log/logger.ts';
import { formatDelay } from '../supervisor/backoff.ts';
import { buildResult, iso, reportMissed } from './job-report.ts';
import { type AppSchedule, type JobEffect, type JobModel, type JobRun, type JobRunOutcome } from './model.ts';
import { syncJobs, syncRecycle } from './sync-schedules.ts';

/** A tick later than this (a suspended machine, a blocked loop) is reported missed, not run (Quartz's misfireThreshold). */
export const LATE_MS = 60_000;
/** overlap 'queue': how many runs may wait for the one running; more are skipped ('queue-full'). */
export const MAX_QUEUED = 10;

/** The part of a Pass the scheduled work uses (supervisor/pass.ts `Pass` satisfies it: Effect includes JobEffect). */
export interface SchedulePass {
  readonly now: number;
  readonly logger: Logger;
  readonly effects: { push(effect: JobEffect): unknown };
  newKey(): number;
}

/** The job-exit observation as observe.ts passes it (events.ts `job-exit`). */
export interface JobExitFact {
  job: string;
  /** The run's id. */
  run: number;
  code: number | null;
  signal: string | null;
  output: string[];
  spawnError?: string;
}

/** The app's part of the table this pass reads and writes. */
export interface ScheduledApp {
  readonly name: string;
  readonly config: ResolvedApp;
  readonly scheduled: AppSchedule;
}

/**
 * One pass over an app's jobs and recycle schedule, in order: sync with the config, exits, stop,
 * manual runs, ticks, queues, timeouts, recycle ticks. `stopping`: a supervisor stop or the app's
 * stop (no new run; runs get SIGTERM). `lastTicks`: the ledger read at start (missed while down).
 */
export function reconcileSchedules(app: ScheduledApp, pass: SchedulePass, ctx: { stopping: boolean; lastTicks: ReadonlyMap<string, number> }): void {
  const s = app.scheduled;
  const log = pass.logger;
  if (s.jobsFrom !== app.config.jobs) syncJobs(app, pass, s.jobsFrom === null ? ctx.lastTicks : null);
  if (s.recycleFrom !== app.config.recycle) syncRecycle(app, pass);
  takeExits(app, pass);
  if (ctx.stopping) stopRuns(app, pass);
  takeManualRuns(app, pass);
  for (const job of s.jobs) {
    if (job.removed) continue;
    takeTicks(app, pass, job, ctx.stopping);
    if (job.run === null && job.queue.length > 0 && !ctx.stopping) {
      const next = job.queue.shift()!;
      startRun(app, pass, job, next.tick, next.waiters);
    }
  }
  for (const job of s.jobs) enforceTimeout(app, pass, job);
  const recycle = s.recycle;
  while (recycle !== null && recycle.next !== null && pass.now >= recycle.next) {
    const tick = recycle.next;
    if (pass.now - tick > LATE_MS) {
      recycle.next = recycle.schedule.next(pass.now - 1);
      log.warn({ event: 'app.recycle-missed', app: app.name, pattern: recycle.pattern, tick: iso(tick) }, `${app.name}: recycle tick ${iso(tick)} (${recycle.pattern}) came ${formatDelay(pass.now - tick)} late; not recycling for it`);
      continue;
    }
    recycle.next = recycle.schedule.next(tick);
    // A stop ends the workers anyway: its ticks pass without a reload.
    if (ctx.stopping) continue;
    recycle.count++;
    recycle.last = tick;
    pass.effects.push({ kind: 'recycle', app: app.name, pattern: recycle.pattern });
    log.info({ event: 'app.recycle', app: app.name, pattern: recycle.pattern, tick: iso(tick) }, `${app.name}: recycle (${recycle.pattern}): a rolling reload of its workers`);
  }
}

/** Observe a job process's exit (or failed start): writes run.exit only; the next pass decides. */
export function observeJobExit(s: AppSchedule, event: JobExitFact, now: number): void {
  const run = s.jobs.find((j) => j.config.name === event.job && j.run?.id === event.run)?.run;
  if (!run || run.exit !== null) return;
  run.exit = { at: now, code: event.code, signal: event.signal, output: event.output, ...(event.spawnError !== undefined ? { spawnError: event.spawnError } : {}) };
}

/** The times the app's scheduled work needs a pass at: next ticks, timeouts, kill deadlines, the recycle tick. */
export function scheduleDeadlines(s: AppSchedule, killTimeoutMs: number, stopping: boolean, consider: (at: number | null) => void): void {
  for (const job of s.jobs) {
    if (!job.removed && !stopping) consider(job.nextTick);
    const run = job.run;
    if (run === null || run.exit !== null) continue;
    if (run.termAt === null) consider(run.config.timeoutMs === null ? null : run.startedAt + run.config.timeoutMs);
    else if (!run.killed) consider(run.termAt + killTimeoutMs);
  }
  if (!stopping) consider(s.recycle?.next ?? null);
}

/** How many job processes of the app are running (or started and not yet observed gone). */
export function runningJobs(s: AppSchedule): number {
  let n = 0;
  for (const job of s.jobs) if (job.run !== null) n++;
  return n;
}

/** Start a run: the table first (at most one per job), then the effect the Supervisor carries out. */
function startRun(app: ScheduledApp, pass: SchedulePass, job: JobModel, tick: number | null, waiters: JobRun['waiters']): void {
  const run: JobRun = {
    id: pass.newKey(),
    job: job.config.name,
    tick,
    trigger: tick === null ? 'manual' : 'schedule',
    config: job.config,
    startedAt: pass.now,
    pid: null,
    termAt: null,
    termWhy: null,
    killed: false,
    exit: null,
    waiters,
  };
  job.run = run;
  pass.effects.push({ kind: 'job-start', app: app.name, appConfig: app.config, run });
  const what = tick === null ? 'run by nsup run' : `tick ${iso(tick)}`;
  pass.logger.info({ event: 'job.start', app: app.name, job: run.job, trigger: run.trigger, tick: iso(tick) }, `${app.name}/${run.job}: starting (${what})`);
}

/** Step 2: runs whose exit was observed become results; removed jobs go once their run is over. */
function takeExits(app: ScheduledApp, pass: SchedulePass): void {
  const s = app.scheduled;
  for (const job of s.jobs) {
    const run = job.run;
    if (run === null || run.exit === null) continue;
    const result = buildResult(run, run.exit, app.config.killTimeoutMs);
    job.last = result;
    if (result.timedOut) job.counters.timedOut++;
    else if (result.ok) job.counters.ok++;
    else job.counters.failed++;
    const fields = { event: 'job.done', app: app.name, job: run.job, tick: result.tick, trigger: run.trigger, code: result.code, signal: result.signal, durationMs: result.durationMs, timedOut: result.timedOut, output: result.output };
    const text = `${app.name}/${run.job}: ${result.ok ? 'done' : 'failed'}: ${result.reason} in ${formatDelay(result.durationMs)} (${run.trigger})`;
    if (result.ok) pass.logger.info(fields, text);
    else pass.logger.warn(fields, text);
    job.run = null;
    for (const waiter of run.waiters) waiter({ ok: true, result });
  }
  s.jobs = s.jobs.filter((job) => !(job.removed && job.run === null));
}

/** Step 3: a stop SIGTERMs every run once and drops the queues; nothing new starts. */
function stopRuns(app: ScheduledApp, pass: SchedulePass): void {
  const s = app.scheduled;
  const refuse = (finish: (o: JobRunOutcome) => void) => finish({ ok: false, reason: `${app.name} is stopping` });
  for (const request of s.inbox.splice(0)) refuse(request.finish);
  for (const job of s.jobs) {
    const ticks: number[] = [];
    for (const entry of job.queue.splice(0)) {
      if (entry.tick !== null) ticks.push(entry.tick);
      for (const waiter of entry.waiters) refuse(waiter);
    }
    logSkipped(app, pass, job, ticks, 'stopping');
    const run = job.run;
    if (run === null || run.exit !== null || run.termAt !== null) continue;
    run.termAt = pass.now;
    run.termWhy = 'stop';
    pass.effects.push({ kind: 'job-signal', run, signal: 'SIGTERM' });
    pass.logger.info({ event: 'job.stop', app: app.name, job: run.job, pid: run.pid }, `${app.name}/${run.job}: stopping its run (pid ${run.pid ?? '?'}): SIGTERM, SIGKILL after ${formatDelay(app.config.killTimeoutMs)}`);
  }
}

/** Step 4: `nsup run` requests. They never move nextTick. */
function takeManualRuns(app: ScheduledApp, pass: SchedulePass): void {
  const s = app.scheduled;
  for (const { job: name, finish } of s.inbox.splice(0)) {
    const job = s.jobs.find((j) => j.config.name === name && !j.removed);
    if (!job) {
      const names = s.jobs.filter((j) => !j.removed).map((j) => j.config.name);
      finish({ ok: false, unknownJob: true, reason: `${app.name} has no job '${name}' (${names.length > 0 ? `jobs: ${names.join(', ')}` : 'it has no jobs'})` });
    } else if (job.run === null && job.queue.length === 0) {
      startRun(app, pass, job, null, [finish]);
    } else if (job.config.overlap === 'queue' && job.queue.length < MAX_QUEUED) {
      job.queue.push({ tick: null, waiters: [finish] });
    } else {
      const run = job.run;
      const busy = run ? `${name} is running (pid ${run.pid ?? '?'}, for ${formatDelay(pass.now - run.startedAt)})` : `${name} is busy`;
      const why = job.config.overlap === 'skip' ? "overlap is 'skip'" : `its queue is full (${MAX_QUEUED} runs waiting)`;
      finish({ ok: false, reason: `${busy}; ${why}` });
    }
  }
}

/** Step 5: the ticks due at `now`, each handled once: started, queued, skipped or missed. */
function takeTicks(app: ScheduledApp, pass: SchedulePass, job: JobModel, stopping: boolean): void {
  const { now } = pass;
  const skipped: Record<'overlap' | 'queue-full' | 'stopping', number[]> = { overlap: [], 'queue-full': [], stopping: [] };
  // Bounded: ticks are whole seconds and any more than LATE_MS old are jumped over at once.
  while (job.nextTick !== null && now >= job.nextTick) {
    const tick = job.nextTick;
    if (now - tick > LATE_MS) {
      // Everything due before now is missed, not only the ticks over LATE_MS: a burst of stale runs helps no one.
      const to = job.schedule.previous(now - 1) ?? tick;
      job.nextTick = job.schedule.next(now - 1);
      reportMissed(app, pass, job, tick, Math.max(tick, to), 'late');
      continue;
    }
    job.nextTick = job.schedule.next(tick);
    if (stopping) skipped.stopping.push(tick);
    else if (job.run === null && job.queue.length === 0) startRun(app, pass, job, tick, []);
    else if (job.config.overlap === 'skip') skipped.overlap.push(tick);
    else if (job.queue.length >= MAX_QUEUED) skipped['queue-full'].push(tick);
    else job.queue.push({ tick, waiters: [] });
  }
  for (const reason of ['overlap', 'queue-full', 'stopping'] as const) logSkipped(app, pass, job, skipped[reason], reason);
}

/** Step 7: a run past its timeout gets SIGTERM; one still there the app's killTimeout later gets SIGKILL. */
function enforceTimeout(app: ScheduledApp, pass: SchedulePass, job: JobModel): void {
  const run = job.run;
  if (run === null || run.exit !== null) return;
  const timeout = run.config.timeoutMs;
  if (run.termAt === null && timeout !== null && pass.now >= run.startedAt + timeout) {
    run.termAt = pass.now;
    run.termWhy = 'timeout';
    pass.effects.push({ kind: 'job-signal', run, signal: 'SIGTERM' });
    pass.logger.warn({ event: 'job.timeout', app: app.name, job: run.job, pid: run.pid, timeoutMs: timeout }, `${app.name}/${run.job}: still running after its ${formatDelay(timeout)} timeout (pid ${run.pid ?? '?'}): SIGTERM, SIGKILL after ${formatDelay(app.config.killTimeoutMs)}`);
  } else if (run.termAt !== null && !run.killed && pass.now >= run.termAt + app.config.killTimeoutMs) {
    run.killed = true;
    pass.effects.push({ kind: 'job-signal', run, signal: 'SIGKILL' });
    pass.logger.warn({ event: 'job.kill', app: app.name, job: run.job, pid: run.pid, reason: run.termWhy }, `${app.name}/${run.job}: pid ${run.pid ?? '?'} still running ${formatDelay(app.config.killTimeoutMs)} after SIGTERM (killTimeout): SIGKILL`);
  }
}

/** One line per job, reason and pass, however many ticks it names. */
function logSkipped(app: ScheduledApp, pass: SchedulePass, job: JobModel, ticks: number[], reason: 'overlap' | 'queue-full' | 'stopping'): void {
  if (ticks.length === 0) return;
  job.counters.skipped += ticks.length;
  const why = reason === 'overlap' ? "the previous run is still going and overlap is 'skip'" : reason === 'queue-full' ? `${MAX_QUEUED} runs are already queued` : 'the app is stopping';
  pass.logger.info({ event: 'job.skipped', app: app.name, job: job.config.name, ticks: ticks.map(iso), reason }, `${app.name}/${job.config.name}: skipped ${ticks.length === 1 ? `tick ${iso(ticks[0]!)}` : `${ticks.length} ticks`}: ${why}`);
}
