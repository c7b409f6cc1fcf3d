// A worker's life as the primary observes it, and the states `nsup status` shows.

/** How far a worker process got, as observed from cluster events; it only ever moves forward. */
export type Lifecycle =
  /** Forked; the process has not reported in yet. */
  | 'starting'
  /** The process runs (cluster 'online'); it has not listened yet. */
  | 'online'
  /** It listens on at least one server handle (readiness.ts decides whether that makes it up). */
  | 'listening'
  /** It called ready() (apps with readyWhen 'ready'). */
  | 'ready';

/** What status shows for a worker or slot: its lifecycle, or what nsup decided about it. */
export type WorkerState =
  | Lifecycle
  /** A slot in backoff before a restart: no process, a restart is scheduled. */
  | 'waiting'
  /** Told to drain; SIGKILL follows after the kill timeout. */
  | 'stopping'
  /** Gone (the last line a worker logs). */
  | 'exited';

// The order a worker moves through; a later observation never moves it back.
const RANK: Record<Lifecycle, number> = { starting: 0, online: 1, listening: 2, ready: 3 };

/** Whether observing `to` moves a worker forward from `from` (online after listening does not). */
export function advances(from: Lifecycle, to: Lifecycle): boolean {
  return RANK[to] > RANK[from];
}
