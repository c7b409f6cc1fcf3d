// The scheduled part of an app's status: its jobs and its recycle schedule, read from the core's
// table (AppModel.scheduled, src/jobs/model.ts). JSON-safe: times as ISO strings.
import type { AppSchedule, JobModel } from '../jobs/model.ts';
import type { JobStatus, RecycleStatus } from './types.ts';

/** Each job of the app, in config order (a removed job shows until its last run ends). */
export function jobsStatus(scheduled: AppSchedule | undefined): JobStatus[] {
  return (scheduled?.jobs ?? []).map(jobStatus);
}

/** The app's recycle schedule, or null when it has none. */
export function recycleStatus(scheduled: AppSchedule | undefined): RecycleStatus | null {
  const r = scheduled?.recycle;
  if (!r) return null;
  return { schedule: r.pattern, timezone: r.timezone, nextRun: iso(r.next), lastRun: iso(r.last), count: r.count };
}

function jobStatus(job: JobModel): JobStatus {
  const run = job.run;
  return {
    name: job.config.name,
    schedule: job.config.schedule,
    timezone: job.config.timezone,
    overlap: job.config.overlap,
    timeoutMs: job.config.timeoutMs,
    nextRun: job.removed ? null : iso(job.nextTick),
    // A run whose exit is observed but not yet folded into `last` by a pass still shows as running.
    running: run === null ? null : { pid: run.pid, startedAt: new Date(run.startedAt).toISOString(), trigger: run.trigger, tick: iso(run.tick) },
    queued: job.queue.length,
    lastRun: job.last === null ? null : { ...job.last, output: [...job.last.output] },
    missed: job.missed === null ? null : { from: new Date(job.missed.from).toISOString(), to: new Date(job.missed.to).toISOString(), reason: job.missed.reason },
    runs: { ok: job.counters.ok, failed: job.counters.failed, timedOut: job.counters.timedOut },
    skipped: job.counters.skipped,
    missedTicks: job.counters.missed,
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
