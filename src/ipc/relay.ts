// Primary side of worker messaging: routes nsup's internal messages between workers
// (send, broadcast, request/reply). PLACEHOLDER: the IPC work replaces this with the real relay.
import type { Logger } from '../log/logger.ts';

/** A worker the relay can deliver to. */
export interface RelayTarget {
  /** Unique key of the worker record (stable for the process's life). */
  key: number;
  app: string;
  /** Stable slot (NSUP_WORKER_ID). */
  slot: number;
  pid: number | null;
  /** Send over IPC; false when the channel is closed or full. */
  send(message: unknown): boolean;
}

/** What the relay needs from the supervisor. */
export interface RelayHost {
  /** The live worker of every slot of `app` (one per slot: the newest generation that is not stopping). */
  targets(app: string): RelayTarget[];
  /** Names of the running apps. */
  apps(): string[];
}

/** Routes internal messages; the supervisor calls it for every internal message and every exit. */
export class Relay {
  private readonly host: RelayHost;
  private readonly logger: Logger;
  constructor(host: RelayHost, logger: Logger) {
    this.host = host;
    this.logger = logger;
  }

  /** An internal (`nsup: 1`) message from a worker that is not 'ready'. Returns true when handled. */
  onMessage(_from: RelayTarget, _message: unknown): boolean {
    return false;
  }

  /** A worker exited: fail what waits on it. */
  onWorkerExit(_key: number): void {}
}
