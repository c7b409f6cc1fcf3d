// The rolling reload as a pure function: given where a reload stands, what happens next.
//
// Generation G+1 comes up `batch` workers at a time next to generation G, which keeps serving.
// Only when every new worker is up are the old ones retired (drained). A new worker that exits or
// misses the listen timeout before it is up rolls the reload back: the new workers are stopped and
// the old ones were never touched, so capacity never drops below the desired count.

/** A worker of the incoming generation, as the plan sees it. */
export interface IncomingView {
  slot: number;
  /** Listening (or ready, with waitReady). */
  up: boolean;
  /** Exited or timed out before it was up: the reload fails. */
  failed: string | null;
}

/** Where one app's reload stands. */
export interface ReloadView {
  /** Workers the new generation must have (the new config's instance count). */
  desired: number;
  /** How many new workers may be starting at once. */
  batch: number;
  phase: 'surge' | 'retire';
  incoming: readonly IncomingView[];
  /** Workers of older generations that still exist (serving, stopping or waiting). */
  oldAlive: number;
}

/** The next step of a reload. */
export type ReloadStep =
  /** Fork new workers for these slots. */
  | { kind: 'fork'; slots: number[] }
  /** Every new worker is up: drain every old one. */
  | { kind: 'retire' }
  /** Nothing to do until the next worker event. */
  | { kind: 'wait' }
  /** Old workers are gone: the new generation is the app. */
  | { kind: 'done' }
  /** A new worker failed: stop the new generation, keep the old one. */
  | { kind: 'rollback'; reason: string };

/** Decide the next step of a reload. */
export function nextReloadStep(view: ReloadView): ReloadStep {
  const failed = view.incoming.find((worker) => worker.failed !== null);
  if (failed) return { kind: 'rollback', reason: `worker ${failed.slot} of the new generation ${failed.failed}` };
  if (view.phase === 'retire') return view.oldAlive === 0 ? { kind: 'done' } : { kind: 'wait' };
  const up = view.incoming.filter((worker) => worker.up).length;
  if (up >= view.desired) return { kind: 'retire' };
  const starting = view.incoming.length - up;
  const forked = new Set(view.incoming.map((worker) => worker.slot));
  const slots: number[] = [];
  for (let slot = 0; slot < view.desired && starting + slots.length < view.batch; slot++) {
    if (!forked.has(slot)) slots.push(slot);
  }
  return slots.length > 0 ? { kind: 'fork', slots } : { kind: 'wait' };
}
