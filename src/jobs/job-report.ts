// What the handling of a job reports: a run's result (status, `job.done`, `nsup run`) and a
// missed-ticks report (status, `job.missed`). Pure: the pass's times only.
import { formatDelay } from '../supervisor/backoff.ts';
import { explainExit } from '../supervisor/explain-exit.ts';
import type { JobModel, JobResult, JobRun } from './model.ts';
import type { ScheduledApp, SchedulePass } from './reconcile-schedules.ts';

/** A missed report counts at most this many ticks (counting is enumerating; a per-second job down for days is not worth it). */
export const MISSED_COUNT_LIMIT = 1000;

/** A finished run's result: ok is exit code 0, not timed out, started at all. */
export function buildResult(run: JobRun, exit: NonNullable<JobRun['exit']>, killTimeoutMs: number): JobResult {
  const timedOut = run.termWhy === 'timeout';
  const { code, signal } = exit;
  const ok = exit.spawnError === undefined && code === 0 && !timedOut;
  return {
    job: run.job,
    trigger: run.trigger,
    tick: iso(run.tick),
    startedAt: iso(run.startedAt),
    durationMs: Math.max(0, exit.at - run.startedAt),
    code,
    signal,
    ok,
    timedOut,
    reason: reasonOf(run, exit, killTimeoutMs),
    output: exit.output,
  };
}

function reasonOf(run: JobRun, exit: NonNullable<JobRun['exit']>, killTimeoutMs: number): string {
  if (exit.spawnError !== undefined) return `could not start: ${exit.spawnError}`;
  const how = exit.signal !== null ? `killed by ${exit.signal}` : `exit ${exit.code}`;
  if (run.termWhy === 'timeout') {
    const timeout = formatDelay(run.config.timeoutMs ?? 0);
    return run.killed ? `${how} after its ${timeout} timeout (still running ${formatDelay(killTimeoutMs)} after SIGTERM)` : `${how} after its ${timeout} timeout`;
  }
  if (run.termWhy === 'stop') return `${how} (stopped with the app)`;
  if (exit.code === 0 && exit.signal === null) return 'exit 0';
  return explainExit({ code: exit.code, signal: exit.signal, stderr: exit.output });
}

/** A missed-ticks report: kept on the job (status) and logged once. No catch-up: the ticks are not run. */
export function reportMissed(app: ScheduledApp, pass: SchedulePass, job: JobModel, from: number, to: number, reason: 'down' | 'late'): void {
  let count = 1;
  for (let t = job.schedule.next(from); t !== null && t <= to && count < MISSED_COUNT_LIMIT; t = job.schedule.next(t)) count++;
  job.missed = { from, to, reason };
  job.counters.missed += count;
  const why = reason === 'down' ? 'nsup was not running' : 'they came too late (a suspended machine or a blocked event loop?)';
  const range = from === to ? `tick ${iso(from)}` : `${count >= MISSED_COUNT_LIMIT ? `${MISSED_COUNT_LIMIT}+` : count} ticks from ${iso(from)} to ${iso(to)}`;
  pass.logger.warn(
    { event: 'job.missed', app: app.name, job: job.config.name, from: iso(from), to: iso(to), count, reason },
    `${app.name}/${job.config.name}: missed ${range}: ${why}; missed ticks are not run`,
  );
}

/** ms since the epoch as ISO 8601 (UTC); null stays null. */
export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
