// The state an app shows (status, logs, readiness), derived from its workers: never stored.
import { CRASH_LOOP_FAILURES } from './backoff.ts';

/** What `nsup status` shows for an app. */
export type AppState =
  /** Workers are coming up for the first time. */
  | 'starting'
  /** Every slot has a worker up. */
  | 'running'
  /** A rolling reload is under way. */
  | 'reloading'
  /** A slot keeps failing to start; nsup keeps retrying with backoff. */
  | 'crash-loop'
  /** A slot hit restart.maxRestarts; nsup stopped restarting it. */
  | 'errored'
  /** The app is shutting down. */
  | 'stopping'
  /** Every worker exited by itself with one of restart.stopExitCodes: done; a reload, scale or restart starts it again. */
  | 'stopped';

/** What the app state is computed from, per slot. */
export interface SlotView {
  up: boolean;
  failures: number;
  halted: boolean;
  /** Its worker exited with a stop exit code (restart.stopExitCodes): done, and not counted below. */
  done?: boolean;
}

/** Derive the app state from its slots and the supervisor's mode. */
export function deriveAppState(slots: readonly SlotView[], mode: { stopping: boolean; reloading: boolean }): AppState {
  if (mode.stopping) return 'stopping';
  // Done slots are finished, not failing: the app is judged by the others; with none left it is stopped.
  const live = slots.filter((slot) => slot.done !== true);
  if (live.length === 0 && slots.length > 0 && !mode.reloading) return 'stopped';
  if (live.some((slot) => slot.halted)) return 'errored';
  if (live.some((slot) => !slot.up && slot.failures >= CRASH_LOOP_FAILURES)) return 'crash-loop';
  if (mode.reloading) return 'reloading';
  return live.every((slot) => slot.up) ? 'running' : 'starting';
}
