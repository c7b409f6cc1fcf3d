// The data the control socket carries: status snapshots (the `nsup status --json` contract:
// fields may be added, never removed) and command results.
import type { Failure } from '../supervisor/model.ts';

/** One worker in `nsup status`. */
export interface WorkerStatus {
  /** Stable slot (NSUP_WORKER_ID). */
  id: number;
  pid: number | null;
  /** waiting | starting | online | listening | ready | stopping */
  state: string;
  generation: number;
  /** Restarts of this slot since start (or since the last reload/restart reset). */
  restarts: number;
  uptimeMs: number;
  rssBytes: number | null;
  cpuPercent: number | null;
}

/** The last unexpected exit of an app (the supervisor's own record; a type-only import). */
export type FailureStatus = Failure;

/** One app in `nsup status`. */
export interface AppStatus {
  name: string;
  /** starting | running | reloading | crash-loop | errored | stopping */
  state: string;
  desired: number;
  generation: number;
  script: string;
  lastFailure: FailureStatus | null;
  lastReload: { ok: boolean; generation: number; durationMs: number; reason?: string } | null;
  workers: WorkerStatus[];
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
