// The worker state machine: one union, one table of allowed moves, one transition function.

/** Where one worker process (or a slot waiting to get one) is in its life. */
export type WorkerState =
  /** Backoff before a restart: no process yet, a timer will fork it. */
  | 'waiting'
  /** Forked; the process has not reported in yet. */
  | 'starting'
  /** The process runs (cluster 'online'); it has not listened yet. */
  | 'online'
  /** It listens on a server handle; up, unless the app uses waitReady. */
  | 'listening'
  /** It called ready() (waitReady apps); up. */
  | 'ready'
  /** Told to drain; SIGKILL follows after the kill timeout. */
  | 'stopping'
  /** Gone. Terminal. */
  | 'exited';

// A -> [B, C]: moving to A is allowed only from B or C.
const ALLOWED: Record<WorkerState, readonly WorkerState[]> = {
  waiting: [],
  starting: ['waiting'],
  online: ['starting'],
  listening: ['starting', 'online', 'ready'],
  ready: ['starting', 'online', 'listening'],
  stopping: ['starting', 'online', 'listening', 'ready'],
  exited: ['waiting', 'starting', 'online', 'listening', 'ready', 'stopping'],
};

/** States in which a process exists. */
export const ALIVE: ReadonlySet<WorkerState> = new Set(['starting', 'online', 'listening', 'ready', 'stopping']);

/** Whether `from → to` is a legal move. */
export function canTransition(from: WorkerState, to: WorkerState): boolean {
  return ALLOWED[to].includes(from);
}

/** Whether a worker in this state counts towards serving capacity. */
export function isUp(state: WorkerState, waitReady: boolean): boolean {
  return waitReady ? state === 'ready' : state === 'listening' || state === 'ready';
}
