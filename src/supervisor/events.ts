import type { ResolvedApp } from '../config/define.ts';
import type { JobRunOutcome } from '../jobs/model.ts';
import type { AppOpResult, ReloadResult } from './model.ts';

// Every input of the primary, as one union. Signal handlers, cluster events, IPC messages, the
// usage sampler and the core's own timer only enqueue these; the supervisor handles them one at
// a time, in order, and after each one reconciles.

/** One input to the supervisor. */
export type SupervisorEvent =
  /** Begin supervising: fork every app's workers. */
  | { type: 'start' }
  /** cluster 'online': the worker process runs. */
  | { type: 'worker-online'; key: number }
  /** cluster 'listening': the worker listens on a server handle. */
  | { type: 'worker-listening'; key: number; address: string }
  /** An IPC message from a worker: nsup's (ready, heartbeat, messaging) or the app's own. */
  | { type: 'worker-message'; key: number; message: unknown }
  /** The worker process exited and its output is read to the end (or it could not be forked). */
  | { type: 'worker-exit'; key: number; code: number | null; signal: string | null; stderr: string[]; spawnError?: string }
  /** The core's one timer: the earliest deadline (backoff, kill, listen, heartbeat) may be due. */
  | { type: 'tick' }
  /** Resident memory of worker processes, by pid (the usage sampler). */
  | { type: 'usage'; rssByPid: ReadonlyMap<number, number | null> }
  /** Start a rolling reload of one app with this (already validated) config. */
  | { type: 'reload-start'; app: string; config: ResolvedApp; trigger: string; finish: (result: ReloadResult) => void }
  /** Stop, restart or scale one app (control socket, SIGTTIN/SIGTTOU). */
  | { type: 'app-op'; app: string; op: 'stop' | 'restart' | 'scale'; to?: number; delta?: number; finish: (result: AppOpResult) => void }
  /** A message from outside (nsup send) for the on(topic) handlers of one worker or all. */
  | { type: 'deliver'; app: string; to: number | 'all'; topic: string; data: unknown; reply: (result: { delivered: number[] } | Error) => void }
  /** A job's process exited and its output is read to the end (or it could not be started: spawnError). */
  | { type: 'job-exit'; app: string; job: string; run: number; code: number | null; signal: string | null; output: string[]; spawnError?: string }
  /** Run one of an app's jobs now (nsup run); `finish` gets its outcome once it ended, or why it did not run. */
  | { type: 'job-run'; app: string; job: string; finish: (outcome: JobRunOutcome) => void }
  /** SIGUSR2: reopen the log files. */
  | { type: 'reopen-logs' }
  /** SIGTERM/SIGINT (or an API call): drain everything and stop; a second one stops at once. */
  | { type: 'stop'; source: string };

/** A FIFO that hands events to one handler, one at a time, even when a handler enqueues more. */
export class EventQueue<E> {
  private readonly items: E[] = [];
  private running = false;
  private readonly handle: (event: E) => void;
  private readonly onError: (error: unknown, event: E) => void;
  constructor(handle: (event: E) => void, onError: (error: unknown, event: E) => void = (error) => {
    throw error;
  }) {
    this.handle = handle;
    this.onError = onError;
  }

  /** Add an event; it is handled now unless another one is being handled (then right after it). */
  push(event: E): void {
    this.items.push(event);
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.items.shift(); next !== undefined; next = this.items.shift()) {
        // A handler that throws loses its own event, never the ones queued behind it.
        try {
          this.handle(next);
        } catch (error) {
          this.onError(error, next);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
