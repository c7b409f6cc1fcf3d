// What the feature modules (reloading, app-ops, replacing) may do with the Supervisor: the
// worker table and its primitives. Only the Supervisor implements it; the modules decide, the
// Supervisor's primitives act.
import type { ResolvedApp } from '../config/define.ts';
import type { Logger } from '../log/logger.ts';
import type { StopReason } from './backoff.ts';
import type { SupervisorEvent } from './events.ts';
import type { AppRuntime, WorkerRecord } from './records.ts';
import type { WorkerState } from './worker-state.ts';

/** The Supervisor's table and primitives, as the feature modules see them. */
export interface Core {
  readonly apps: Map<string, AppRuntime>;
  readonly logger: Logger;
  readonly isStopping: boolean;
  enqueue(event: SupervisorEvent): void;
  /** Fork a worker for `slot` of `app` with `config`, in `generation`. */
  fork(app: AppRuntime, config: ResolvedApp, slot: number, generation: number): WorkerRecord;
  /** Ask a worker to drain (intent recorded first); SIGKILL after its kill timeout. */
  requestStop(record: WorkerRecord, reason: StopReason): void;
  /** Cancel waiting records and ask live ones to drain. */
  stopRecords(records: WorkerRecord[], reason: StopReason): void;
  /** The one transition function. */
  move(record: WorkerRecord | undefined, to: WorkerState): void;
  /** Drop an exited record from the table. */
  remove(record: WorkerRecord): void;
  hasRecord(key: number): boolean;
  isUpRecord(record: WorkerRecord): boolean;
  refreshAppStates(): void;
  whenUp(apps: string[] | 'all', timeoutMs: number): Promise<boolean>;
  /** Stop the whole supervisor (drain everything, then exit). */
  onStop(source: string): void;
}

/** The event of type T. */
export type EventOf<T extends SupervisorEvent['type']> = Extract<SupervisorEvent, { type: T }>;
