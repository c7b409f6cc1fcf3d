// nsup's metric families for scheduled jobs and recycling, read from the core's table at scrape
// time (AppModel.scheduled, WorkerModel.requests). Registered on nsup's own registry (server.ts).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { JobModel } from '../jobs/model.ts';
import type { Supervisor } from '../supervisor/supervisor.ts';

/** Add the nsup_job_* families, nsup_recycles_total, nsup_workers_recycled_total and nsup_worker_requests to `register`. */
export function registerJobMetrics(register: Registry, supervisor: Supervisor): void {
  const apps = () => [...supervisor.apps.values()];
  const jobs = () => apps().flatMap((app) => app.scheduled.jobs.filter((job) => !job.removed).map((job) => ({ job, labels: { app: app.config.name, job: job.config.name } })));
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [register], collect() { this.reset(); collect(this); } });
  const counter = (name: string, help: string, labelNames: string[], collect: (c: Counter) => void) =>
    new Counter({ name, help, labelNames, registers: [register], collect() { this.reset(); collect(this); } });
  const perJob = (g: Gauge, value: (job: JobModel) => number | null) =>
    jobs().forEach(({ job, labels }) => {
      const v = value(job);
      if (v !== null) g.set(labels, v);
    });

  counter('nsup_job_runs_total', 'Job runs that ended, by result: ok (exit 0), failed (other exits, could not start), timeout (ended by its timeout).', ['app', 'job', 'result'], (c) =>
    jobs().forEach(({ job, labels }) => {
      c.inc({ ...labels, result: 'ok' }, job.counters.ok);
      c.inc({ ...labels, result: 'failed' }, job.counters.failed);
      c.inc({ ...labels, result: 'timeout' }, job.counters.timedOut);
    }),
  );
  counter('nsup_job_skipped_total', "Ticks not run because the previous run still ran (overlap 'skip', or a full queue).", ['app', 'job'], (c) =>
    jobs().forEach(({ job, labels }) => c.inc(labels, job.counters.skipped)),
  );
  counter('nsup_job_missed_total', 'Ticks not run because nsup was down or the tick came too late (reported, never replayed).', ['app', 'job'], (c) =>
    jobs().forEach(({ job, labels }) => c.inc(labels, job.counters.missed)),
  );
  gauge('nsup_job_running', 'Whether a run of the job is in progress (0 or 1).', ['app', 'job'], (g) => perJob(g, (job) => (job.run === null ? 0 : 1)));
  gauge('nsup_job_last_success', 'Whether the last run succeeded (1) or failed (0); absent before the first run.', ['app', 'job'], (g) => perJob(g, (job) => (job.last === null ? null : job.last.ok ? 1 : 0)));
  gauge('nsup_job_last_duration_seconds', 'How long the last run took.', ['app', 'job'], (g) => perJob(g, (job) => (job.last === null ? null : job.last.durationMs / 1000)));
  gauge('nsup_job_last_run_timestamp_seconds', 'When the last run started (Unix time).', ['app', 'job'], (g) => perJob(g, (job) => (job.last === null ? null : Date.parse(job.last.startedAt) / 1000)));
  gauge('nsup_job_next_run_timestamp_seconds', 'When the next tick is due (Unix time); absent when the schedule never matches again.', ['app', 'job'], (g) =>
    perJob(g, (job) => (job.nextTick === null ? null : job.nextTick / 1000)),
  );
  counter('nsup_recycles_total', "Ticks of the app's recycle schedule (each asks for a rolling reload).", ['app'], (c) =>
    apps().forEach((app) => c.inc({ app: app.config.name }, app.counters.recycleTicks)),
  );
  counter('nsup_workers_recycled_total', 'Workers replaced because they served their maxRequests.', ['app'], (c) =>
    apps().forEach((app) => c.inc({ app: app.config.name }, app.counters.recycledRequests)),
  );
  gauge('nsup_worker_requests', 'Requests each worker served (with maxRequests only; WebSocket upgrades and event streams count).', ['app', 'worker', 'generation'], (g) =>
    apps().forEach((app) =>
      app.workers.forEach((w) => {
        if (w.pid !== null && typeof w.requests === 'number') g.set({ app: app.config.name, worker: String(w.slot), generation: String(w.generation) }, w.requests);
      }),
    ),
  );
}
