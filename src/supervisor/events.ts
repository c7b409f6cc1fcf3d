import type { ResolvedApp } from '../config/define.ts';
import type { AppOpResult, ReloadResult } from './records.ts';

// Every input of the primary, as one union. Signal handlers, worker events and timers only
// enqueue these; the supervisor handles them one at a time, in order.

/** One input to the supervisor. */
export type SupervisorEvent =
  /** cluster 'online': the worker process runs. */
  | { type: 'worker-online'; key: number }
  /** cluster 'listening': the worker listens on a server handle. */
  | { type: 'worker-listening'; key: number; address: string }
  /** The worker called ready() / process.send('ready'). */
  | { type: 'worker-ready'; key: number }
  /** The worker process exited and its output is read to the end. */
  | { type: 'worker-exit'; key: number; code: number | null; signal: string | null }
  /** A waiting slot's backoff is over: fork it. */
  | { type: 'restart-due'; key: number }
  /** A stopping worker outlived its kill timeout: SIGKILL it. */
  | { type: 'kill-due'; key: number }
  /** A new worker of a reload did not come up within listenTimeout. */
  | { type: 'listen-timeout'; key: number }
  /** Start a rolling reload of one app with this (already validated) config. */
  | { type: 'reload-start'; app: string; config: ResolvedApp; trigger: string; finish: (result: ReloadResult) => void }
  /** Stop, restart or scale one app (control socket, SIGTTIN/SIGTTOU). */
  | { type: 'app-op'; app: string; op: 'stop' | 'restart' | 'scale'; to?: number; finish: (result: AppOpResult) => void }
  /** SIGTERM/SIGINT (or an API call): drain everything and stop; a second one stops at once. */
  | { type: 'stop'; source: string };

/** A FIFO that hands events to one handler, one at a time, even when a handler enqueues more. */
export class EventQueue<E> {
  private readonly items: E[] = [];
  private running = false;
  private readonly handle: (event: E) => void;
  constructor(handle: (event: E) => void) {
    this.handle = handle;
  }

  /** Add an event; it is handled now unless another one is being handled (then right after it). */
  push(event: E): void {
    this.items.push(event);
    if (this.running) return;
    this.running = true;
    try {
      for (let next = this.items.shift(); next !== undefined; next = this.items.shift()) this.handle(next);
    } finally {
      this.running = false;
    }
  }
}
