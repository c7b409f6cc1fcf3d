// Primary side of messaging between workers (issue 5): routes each worker's send, request,
// response and cancel to the worker(s) it names, and answers a request at once when its target
// does not exist or exits. Holds the primary's `seq → requester` map; nothing else does.
// It is on the primary's hot path: no log line per message, one (throttled) line per failure.
import type { Logger } from '../log/logger.ts';
import {
  IPC_ERROR,
  NSUP_IPC,
  parseWorkerMessage,
  type CancelMessage,
  type DeliverMessage,
  type Outcome,
  type RequestMessage,
  type RequestTarget,
  type ResponseMessage,
  type SendMessage,
  type Target,
  type WorkerMessage,
} from './protocol.ts';

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
  /**
   * The live worker of every slot of `app` (one per slot: the newest generation that is not stopping).
   * The relay sends a message for worker id N to the first target of slot N, and one for 'all',
   * 'others' or { app } to every target listed, so listing two per slot (both generations during
   * a reload, the one to address first) also works.
   */
  targets(app: string): RelayTarget[];
  /** Names of the running apps. */
  apps(): string[];
}

/** Log events the relay writes (one line per failure, throttled per worker). */
export type RelayLogEvent = 'ipc.malformed' | 'ipc.undeliverable';

/** Routes internal messages; the supervisor calls it for every internal message and every exit. */
export class Relay {
  private readonly host: RelayHost;
  private readonly logger: Logger;
  /** Requests in flight: requester key → its seq → where the request went. */
  private readonly pending = new Map<number, Map<number, InFlight>>();
  /** Failures so far per `event:worker key`, to log at 1, 10, 100, … only. */
  private readonly failures = new Map<string, number>();
  private relayedCount = 0;
  private droppedCount = 0;
  // One handler per worker message type; a missing one is a type error.
  private readonly handlers: { [T in WorkerMessage['type']]: (from: RelayTarget, message: Extract<WorkerMessage, { type: T }>) => void } = {
    send: (from, message) => this.onSend(from, message),
    request: (from, message) => this.onRequest(from, message),
    response: (from, message) => this.onResponse(from, message),
    cancel: (from, message) => this.onCancel(from, message),
  };

  constructor(host: RelayHost, logger: Logger) {
    this.host = host;
    this.logger = logger;
  }

  /** Worker-to-worker messages forwarded (one per recipient: each delivery, request and answer; not the primary's own error replies). */
  get relayed(): number {
    return this.relayedCount;
  }

  /** Messages dropped: malformed, undeliverable, or replies nobody waits for any more. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Requests the primary is tracking (for tests and leak checks). */
  get inFlight(): number {
    let n = 0;
    for (const requests of this.pending.values()) n += requests.size;
    return n;
  }

  /** An internal (`nsup: 1`) message from a worker that is not 'ready'. Returns true when handled. */
  onMessage(from: RelayTarget, message: unknown): boolean {
    const parsed = parseWorkerMessage(message);
    if (typeof parsed === 'string') {
      this.fail(from, 'ipc.malformed', { reason: parsed }, `${describe(from)} sent a malformed nsup message (${parsed}); dropped`);
      return false;
    }
    (this.handlers[parsed.type] as (from: RelayTarget, message: WorkerMessage) => void)(from, parsed);
    return true;
  }

  /** A worker exited: fail what waits on it at once, forget what it waited for. */
  onWorkerExit(key: number): void {
    this.pending.delete(key);
    for (const requests of this.pending.values()) {
      for (const [seq, entry] of requests) {
        if (entry.target !== key) continue;
        requests.delete(seq);
        const message = `request('${entry.topic}') to ${entry.targetName}: it exited before it answered.`;
        this.reply(entry.origin, seq, { ok: false, error: { code: IPC_ERROR.targetExited, message } });
      }
    }
    this.failures.delete(`ipc.malformed:${key}`);
    this.failures.delete(`ipc.undeliverable:${key}`);
  }

  private onSend(from: RelayTarget, message: SendMessage): void {
    const targets = this.resolve(from, message.to);
    if (typeof targets === 'string') {
      this.fail(from, 'ipc.undeliverable', { topic: message.topic }, `send('${message.topic}') from ${describe(from)}: ${targets}; dropped`);
      return;
    }
    const out: DeliverMessage = { nsup: NSUP_IPC, type: 'deliver', topic: message.topic, data: message.data, from: from.slot, fromApp: from.app };
    for (const target of targets) {
      const error = this.forward(target, out);
      if (error === null) this.relayedCount++;
      else this.fail(from, 'ipc.undeliverable', { topic: message.topic, to: target.slot, toApp: target.app }, `send('${message.topic}') from ${describe(from)} to ${describe(target)}: the data ${error}; dropped`);
    }
  }

  private onRequest(from: RelayTarget, message: RequestMessage): void {
    const { seq, topic } = message;
    const targets = this.resolve(from, message.to);
    const target = typeof targets === 'string' ? null : targets[0];
    if (!target) {
      const reason = typeof targets === 'string' ? targets : 'no such worker is running';
      this.reply(from, seq, { ok: false, error: { code: IPC_ERROR.noTarget, message: `request('${topic}'): ${reason}.` } });
      return;
    }
    let requests = this.pending.get(from.key);
    if (!requests) this.pending.set(from.key, (requests = new Map()));
    requests.set(seq, { origin: from, target: target.key, targetName: describe(target), topic });
    const error = this.forward(target, { nsup: NSUP_IPC, type: 'invoke', seq, via: from.key, topic, data: message.data, from: from.slot, fromApp: from.app });
    if (error === null) {
      this.relayedCount++;
      return;
    }
    requests.delete(seq);
    this.reply(from, seq, { ok: false, error: { code: IPC_ERROR.unsendable, message: `request('${topic}') to ${describe(target)}: the data ${error}.` } });
  }

  private onResponse(from: RelayTarget, message: ResponseMessage): void {
    const requests = this.pending.get(message.via);
    const entry = requests?.get(message.seq);
    // No entry: the requester timed out (cancel) or exited. Not the target: not its to answer.
    if (!requests || !entry || entry.target !== from.key) {
      this.droppedCount++;
      return;
    }
    requests.delete(message.seq);
    const outcome: Outcome = message.ok ? { ok: true, data: message.data } : { ok: false, error: message.error };
    if (this.reply(entry.origin, message.seq, outcome, `request('${entry.topic}') to ${entry.targetName}`)) this.relayedCount++;
  }

  private onCancel(from: RelayTarget, message: CancelMessage): void {
    this.pending.get(from.key)?.delete(message.seq);
  }

  /** The workers `to` names, from `from`'s point of view; or why there are none. */
  private resolve(from: RelayTarget, to: Target | RequestTarget): RelayTarget[] | string {
    if (to === 'all') return this.host.targets(from.app);
    if (to === 'others') return this.host.targets(from.app).filter((t) => t.key !== from.key);
    const app = typeof to === 'number' ? from.app : to.app;
    const id = typeof to === 'number' ? to : to.id;
    const targets = this.host.targets(app);
    if (targets.length === 0 && !this.host.apps().includes(app)) return `there is no app named '${app}' (apps: ${this.host.apps().join(', ') || 'none'})`;
    if (id === undefined) return targets;
    for (const target of targets) if (target.slot === id) return [target];
    const running = targets.map((t) => t.slot).join(', ') || 'none';
    return `worker ${id} of app '${app}' is not running (running workers: ${running})`;
  }

  /** Send to one worker; returns why it failed, or null. Never throws (the primary must not). */
  private forward(target: RelayTarget, message: unknown): string | null {
    try {
      // false only means "closed or backlogged": Node still queues the message on a full
      // backlog, and a closed channel is followed by an exit that fails pending requests.
      target.send(message);
      return null;
    } catch (error) {
      // E.g. a BigInt from an 'advanced' app to a 'json' one: Node serializes per channel.
      return `cannot be encoded for that worker's IPC channel (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
    }
  }

  /** Send a request's outcome to its requester; a reply that cannot be encoded for it becomes an error. True when sent as is. */
  private reply(origin: RelayTarget, seq: number, outcome: Outcome, what = 'request'): boolean {
    const error = this.forward(origin, { nsup: NSUP_IPC, type: 'reply', seq, ...outcome });
    if (error && outcome.ok) {
      const message = `${what}: the reply ${error.replace("that worker's", "this worker's")}.`;
      this.forward(origin, { nsup: NSUP_IPC, type: 'reply', seq, ok: false, error: { code: IPC_ERROR.unsendable, message } });
    }
    return error === null;
  }

  /** Count a failure; log it the 1st, 10th, 100th … time for this worker and event. */
  private fail(from: RelayTarget, event: RelayLogEvent, fields: Record<string, unknown>, message: string): void {
    this.droppedCount++;
    const id = `${event}:${from.key}`;
    const count = (this.failures.get(id) ?? 0) + 1;
    this.failures.set(id, count);
    if (!isPowerOfTen(count)) return;
    const more = count > 1 ? ` (${count} so far from this worker; logged at 1, 10, 100, …)` : '';
    this.logger.warn({ event, app: from.app, worker: from.slot, pid: from.pid, count, ...fields }, `${message}${more}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** A request the primary forwarded and waits to see answered. */
interface InFlight {
  origin: RelayTarget;
  /** Key of the worker that must answer. */
  target: number;
  targetName: string;
  topic: string;
}

function describe(target: RelayTarget): string {
  return `worker ${target.slot} of app '${target.app}'`;
}

function isPowerOfTen(n: number): boolean {
  while (n >= 10 && n % 10 === 0) n /= 10;
  return n === 1;
}
