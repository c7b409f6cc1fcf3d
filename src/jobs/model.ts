// Issue 16: an app's scheduled work as the core's table holds it (AppModel.scheduled): its jobs,
// each job's next tick, its one run at most, its queue and its last result, and the app's recycle
// schedule. Written only by the core's passes (reconcile-schedules.ts) and observations, like the
// rest of the table (supervisor/model.ts says who writes what).
import type { ResolvedApp, ResolvedJob } from '../config/define.ts';
import type { Schedule } from './schedule.ts';

/** How a run ended, JSON-safe (status, log events, `nsup run`). */
export interface JobResult {
  job: string;
  trigger: 'schedule' | 'manual';
  /** The scheduled time it ran for (ISO), or null for `nsup run`. */
  tick: string | null;
  startedAt: string;
  durationMs: number;
  code: number | null;
  signal: string | null;
  /** Exit code 0 and not timed out. */
  ok: boolean;
  timedOut: boolean;
  /** One line: 'exit 0', 'exit 1', 'killed by SIGKILL after its 10s timeout', 'could not start: …'. */
  reason: string;
  /** The last lines of its stdout and stderr, in order. */
  output: string[];
}

/** What `nsup run` gets back: the run's result, or why none ran. */
export type JobRunOutcome = { ok: true; result: JobResult } | { ok: false; reason: string; unknownJob?: boolean };

/** One run of a job: a tick's or `nsup run`'s. */
export interface JobRun {
  /** Unique in the process (pass.newKey()). */
  readonly id: number;
  readonly job: string;
  /** The scheduled time it runs for (ms since the epoch); null: `nsup run`. */
  readonly tick: number | null;
  readonly trigger: 'schedule' | 'manual';
  /** The job's config when it started: a reload does not change a running run. */
  readonly config: ResolvedJob;
  readonly startedAt: number;
  /** Set by the Supervisor when it carried out the start effect. */
  pid: number | null;
  /** Decided: when SIGTERM was sent (timeout or stop), and why. */
  termAt: number | null;
  termWhy: 'timeout' | 'stop' | null;
  /** Decided: SIGKILL sent (the app's killTimeout after termAt). */
  killed: boolean;
  /** Observed: the process is gone (or never started: spawnError). */
  exit: { at: number; code: number | null; signal: string | null; output: string[]; spawnError?: string } | null;
  /** `nsup run` callers waiting for this run's outcome. */
  readonly waiters: Array<(outcome: JobRunOutcome) => void>;
}

/** One job of an app. */
export interface JobModel {
  config: ResolvedJob;
  schedule: Schedule;
  /** The next tick not handled yet; null: never again, or the job was removed. */
  nextTick: number | null;
  /** overlap 'queue': ticks (or manual runs) waiting for the run to end, oldest first. */
  queue: Array<{ tick: number | null; waiters: JobRun['waiters'] }>;
  /** At most one run per job, always. */
  run: JobRun | null;
  last: JobResult | null;
  /** The last missed-ticks report: while nsup was down, or too late to run (a suspended machine, a blocked loop). */
  missed: { from: number; to: number; reason: 'down' | 'late' } | null;
  /** Gone from the config: dropped once its run ends. */
  removed: boolean;
  counters: { ok: number; failed: number; timedOut: number; skipped: number; missed: number };
}

/** An app's `recycle` schedule: a rolling reload on each tick. */
export interface RecycleModel {
  pattern: string;
  timezone: string | null;
  schedule: Schedule;
  next: number | null;
  /** When the last recycle tick fired. */
  last: number | null;
  count: number;
}

/** An app's scheduled work (AppModel.scheduled). */
export interface AppSchedule {
  /** The config array last synced from (identity: a fast path only; jobs are matched by value). */
  jobsFrom: readonly ResolvedJob[] | null;
  jobs: JobModel[];
  recycleFrom: ResolvedApp['recycle'] | undefined;
  recycle: RecycleModel | null;
  /** `nsup run` requests not yet taken by a pass. */
  inbox: Array<{ job: string; finish: (outcome: JobRunOutcome) => void }>;
}

/** What a pass asks the Supervisor to do for scheduled work. */
export type JobEffect =
  | { kind: 'job-start'; app: string; appConfig: ResolvedApp; run: JobRun }
  | { kind: 'job-signal'; run: JobRun; signal: 'SIGTERM' | 'SIGKILL' }
  | { kind: 'recycle'; app: string; pattern: string };

/** The ledger's key of a job (CoreModel.lastTicks): a job whose schedule or zone changed is a new one. */
export function ledgerKey(app: string, job: Pick<ResolvedJob, 'name' | 'schedule' | 'timezone'>): string {
  return `${app}\0${job.name}\0${job.schedule}\0${job.timezone ?? ''}`;
}

/** A new app's scheduled work, before its first sync. */
export function emptySchedule(): AppSchedule {
  return { jobsFrom: null, jobs: [], recycleFrom: undefined, recycle: null, inbox: [] };
}
