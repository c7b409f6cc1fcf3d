// The supervisor's table entries: one record per worker process (or slot waiting to get one).
import type { Worker } from 'node:cluster';
import type { ResolvedApp } from '../config/define.ts';
import type { Logger } from '../log/logger.ts';
import type { WorkerOutput } from '../log/worker-output.ts';
import type { AppState } from './app-state.ts';
import type { StopReason } from './backoff.ts';
import type { WorkerState } from './worker-state.ts';

/** One worker process of an app slot (or a slot waiting in backoff to get one). */
export interface WorkerRecord {
  /** Unique for the supervisor's lifetime; events refer to records by key. */
  readonly key: number;
  readonly app: AppRuntime;
  /** The config this worker was forked with (a reload's new config for the incoming generation). */
  readonly config: ResolvedApp;
  /** Stable slot 0..n-1 (NSUP_WORKER_ID), kept across restarts and reloads. */
  readonly slot: number;
  readonly generation: number;
  state: WorkerState;
  worker: Worker | null;
  pid: number | null;
  forkedAt: number;
  /** Set before nsup asks a worker to stop, so that exit is never taken for a crash. */
  stopReason: StopReason | null;
  /** The one state timer the record owns (backoff or kill timeout); cleared on every transition. */
  timer: NodeJS.Timeout | null;
  /** A reload's deadline for this new worker to be up; cleared once it is up or gone. */
  listenTimer: NodeJS.Timeout | null;
  output: WorkerOutput | null;
  log: Logger;
  /** A replacement (memory limit, hung worker): the key of the worker it takes over from, and why. */
  replaces: { key: number; reason: string } | null;
  /** Last event-loop heartbeat from the worker (ms since epoch); null before the first. */
  lastHeartbeat: number | null;
}

/** Per-slot history that outlives each process. */
export interface SlotStats {
  restarts: number;
  /** Consecutive failed starts; reset by a worker that stays up for restart.minUptime. */
  failures: number;
  /** restart.maxRestarts was hit: the slot is not restarted until a reload. */
  halted: boolean;
}

/** The last unexpected exit of an app, kept for status and crash-loop reports. */
export interface Failure {
  at: string;
  worker: number;
  pid: number | null;
  code: number | null;
  signal: string | null;
  reason: string;
  stderr: string[];
}

/** How a reload ended. */
export interface ReloadResult {
  app: string;
  ok: boolean;
  generation: number;
  durationMs: number;
  /** Why it rolled back (or was refused). */
  reason?: string;
}

/** A rolling reload under way for one app. */
export interface ReloadRun {
  readonly generation: number;
  readonly config: ResolvedApp;
  readonly trigger: string;
  readonly startedAt: number;
  phase: 'surge' | 'retire';
  /** Slot → why that new worker failed before it was up. */
  failed: Map<number, string>;
  finish: (result: ReloadResult) => void;
}

/** One app under supervision. */
export interface AppRuntime {
  config: ResolvedApp;
  generation: number;
  records: WorkerRecord[];
  slots: SlotStats[];
  state: AppState;
  lastFailure: Failure | null;
  reload: ReloadRun | null;
  lastReload: ReloadResult | null;
  /** Monotonic counters since the supervisor started (Prometheus). */
  counters: { restarts: number; reloadsDone: number; reloadsRolledBack: number };
  /** Worker count set at run time (nsup scale, SIGTTIN/SIGTTOU); reloads keep it. */
  scaledTo: number | null;
  /** A stop or restart of this app is under way; `done` runs once its last worker exited. */
  pending: { op: 'stop' | 'restart'; done: () => void } | null;
}

/** The answer to an app operation (scale, stop, restart). */
export interface AppOpResult {
  ok: boolean;
  app: string;
  message: string;
}

/** Fresh per-slot stats for `n` slots. */
export function freshSlots(n: number): SlotStats[] {
  return Array.from({ length: n }, () => ({ restarts: 0, failures: 0, halted: false }));
}

/** "worker 1 of web (pid 4242)" */
export function label(record: WorkerRecord): string {
  return `worker ${record.slot} of ${record.app.config.name}${record.pid ? ` (pid ${record.pid})` : ''}`;
}

/** The stderr lines worth keeping in a failure report: Node's internal stack frames are noise. */
export function reportLines(stderr: readonly string[]): string[] {
  return stderr.filter((line) => !/^\s+at (?:async )?(?:.*\()?node:internal\//.test(line)).slice(-20);
}
