// The data the control socket carries: status snapshots (the `nsup status --json` contract:
// fields may be added, never removed) and command results.
import type { JobResult } from '../jobs/model.ts';
import type { Failure } from '../supervisor/model.ts';

/** How a job run ended (src/jobs/model.ts; a type-only import). */
export type JobResultStatus = JobResult;

/** One worker in `nsup status`. */
export interface WorkerStatus {
  /** Stable slot (NSUP_WORKER_ID). */
  id: number;
  pid: number | null;
  /** waiting | starting | online | listening | ready | stopping | done (exited with a restart.stopExitCodes code; no process) */
  state: string;
  generation: number;
  /** Restarts of this slot since start (or since the last reload/restart reset). */
  restarts: number;
  uptimeMs: number;
  rssBytes: number | null;
  cpuPercent: number | null;
  /** Counts as up by the app's readyWhen (listening on every address, ready() called, or running). */
  up: boolean;
  /** What it listens on: ':3000', 'host:3000', or a unix socket's path. */
  addresses: string[];
  /** Why it is not up yet (a live worker past its first second, not stopping); null otherwise. */
  notUpReason: string | null;
  /** Its open connections by kind, as it last reported them; null before the first report. */
  connections: { inFlight: number; keepAlive: number; websocket: number; stream: number } | null;
  /** The real directory it runs in (its cwd with symlinks resolved when it was forked): with a `current` symlink, its release. Null for a slot without a process. */
  cwd?: string | null;
  /** Its script's real path when it was forked. Null for a slot without a process. */
  scriptPath?: string | null;
  /** A `done` slot: the restart.stopExitCodes code its worker exited with; null otherwise. */
  exitCode?: number | null;
  /** With maxRequests: the requests it served so far (WebSocket upgrades and event streams count), as last reported; null before the first report or without maxRequests. */
  requests?: number | null;
  /** With maxRequests: its own limit (maxRequests plus its jitter); null without maxRequests. */
  maxRequests?: number | null;
  /** Its live figures, reported once a second (so at most about a second old); null until its first report and for a slot without a process. */
  live: LiveStatus | null;
}

/** A worker's live figures (WorkerStatus.live). */
export interface LiveStatus {
  /** Served since the worker started: HTTP requests, WebSocket upgrades and event streams. */
  requests: number;
  /** Requests per second over the last report interval. */
  reqPerSec: number;
  /** Event-loop utilisation over the last interval, 0..1. */
  elu: number;
  /** How late its event loop ran timers over the last interval (ms), sampled every 100 ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

/** One finished rolling reload of an app (AppStatus.reloads). */
export interface ReloadStatus {
  /** The generation it rolled to, or tried to (a rollback). */
  generation: number;
  /** What asked for it: 'SIGHUP', 'nsup reload', 'nsup deploy', 'file change', 'recycle (…)', 'API'; coalesced ones joined with ', '. */
  trigger: string;
  startedAt: string;
  durationMs: number;
  /** False: rolled back (the previous generation kept serving). */
  ok: boolean;
  /** Why it rolled back. */
  reason?: string;
}

/** One scheduled job of an app in `nsup status`. */
export interface JobStatus {
  name: string;
  /** The cron expression as configured. */
  schedule: string;
  /** Its IANA time zone; null: the supervisor's local time. */
  timezone: string | null;
  overlap: 'skip' | 'queue';
  timeoutMs: number | null;
  /** The next tick (ISO); null when it never matches again or the job was removed. */
  nextRun: string | null;
  /** The run in progress, if any (tick: the scheduled time it runs for, null for `nsup run`). */
  running: { pid: number | null; startedAt: string; trigger: 'schedule' | 'manual'; tick: string | null } | null;
  /** Runs waiting for the current one (overlap 'queue'). */
  queued: number;
  lastRun: JobResultStatus | null;
  /** The last report of ticks not run: while nsup was down ('down'), or too late to run ('late'). */
  missed: { from: string; to: string; reason: 'down' | 'late' } | null;
  runs: { ok: number; failed: number; timedOut: number };
  /** Ticks skipped (overlap 'skip', or a full queue). */
  skipped: number;
  /** Ticks reported missed. */
  missedTicks: number;
}

/** An app's `recycle` schedule in `nsup status`: a rolling reload on each tick. */
export interface RecycleStatus {
  schedule: string;
  timezone: string | null;
  nextRun: string | null;
  lastRun: string | null;
  /** Recycle reloads asked for since start. */
  count: number;
}

/** One generation of an app that has workers: where it runs from (each generation's resolved paths). */
export interface GenerationStatus {
  generation: number;
  /** The real directory (cwd with symlinks resolved at fork) of its workers. */
  cwd: string;
  /** The real path of its script. */
  script: string;
  /** Its workers (stopping ones included). */
  workers: number;
  /** serving: the app's current generation; incoming: a reload's new one; retiring: an old one draining. */
  role: 'serving' | 'incoming' | 'retiring';
}

/** The last unexpected exit of an app (the supervisor's own record; a type-only import). */
export type FailureStatus = Failure;

/** One primary hook of an app in `nsup status` (a module of the app's `primary`, run in the primary). */
export interface PrimaryHookStatus {
  /** Absolute path of the module. */
  file: string;
  /** loaded: its setup ran (or still runs: 'loading'); failed: its import or setup threw, it is not running. */
  state: 'loaded' | 'failed' | 'loading';
  /** First line of its last error (at load, later in a listener or timer, or at dispose); null when none. */
  error: string | null;
  /** How many errors it had so far. */
  failures: number;
}

/** One app in `nsup status`. */
export interface AppStatus {
  name: string;
  /** starting | running | reloading | crash-loop | errored | stopping | stopped (every worker done: restart.stopExitCodes) */
  state: string;
  desired: number;
  generation: number;
  /** When a new worker counts as up: 'listening', 'ready' or 'online'. */
  readyWhen: string;
  script: string;
  /** The configured working directory (as written, symlinks kept: './current' stays …/current). */
  cwd?: string;
  /** Each generation that has workers, oldest first: during a reload the serving one and the incoming one, with their real paths. */
  generations?: GenerationStatus[];
  lastFailure: FailureStatus | null;
  lastReload: { ok: boolean; generation: number; durationMs: number; reason?: string } | null;
  /** Its last 20 finished reloads, oldest first (absent in documents of older nsup versions). */
  reloads?: ReloadStatus[];
  workers: WorkerStatus[];
  /** The app's primary hooks, in load order (empty without `primary`; absent in documents of older nsup versions). */
  primaryHooks: PrimaryHookStatus[];
  /** What the app's limits resolved to; maxRestarts null means unlimited (absent in documents of older nsup versions). */
  limits?: {
    maxMemoryBytes: number | null;
    killTimeoutMs: number;
    listenTimeoutMs: number;
    restart: { delayMs: number; maxDelayMs: number; minUptimeMs: number; maxRestarts: number | null; stopExitCodes: number[] };
    /** Replace a worker after this many requests (plus up to maxRequestsJitter); null: off. */
    maxRequests?: number | null;
    maxRequestsJitter?: number;
  };
  /** Exactly one worker, never two at once (absent in documents of older nsup versions). */
  singleton?: boolean;
  /** Its scheduled jobs, in config order (empty without `jobs`; absent in documents of older nsup versions). */
  jobs?: JobStatus[];
  /** Its `recycle` schedule; null when off (absent in documents of older nsup versions). */
  recycle?: RecycleStatus | null;
}

/** One supervisor process in `nsup status`. */
export interface SupervisorStatus {
  pid: number;
  startedAt: string;
  node: string;
  config: string | null;
  mode: 'foreground' | 'daemon';
  apps: AppStatus[];
}

/** What `nsup status --json` prints. */
export interface StatusDocument {
  supervisors: SupervisorStatus[];
}
