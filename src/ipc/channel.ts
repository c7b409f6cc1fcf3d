// Worker side of messaging between workers (issue 5): send, request/reply and topic handlers
// over the IPC channel to the primary, which relays them (ipc/relay.ts). Holds this worker's
// `seq → resolver` map of pending requests; every entry leaves it by reply, timeout or close().
import { checkPayload } from './payload.ts';
import { IPC_ERROR, MAX_TOPIC_LENGTH, NSUP_IPC, ipcError, isRequestTarget, isTarget, isTopic, parsePrimaryMessage } from './protocol.ts';
import type { DeliverMessage, InvokeMessage, Outcome, PrimaryMessage, ReplyMessage, RequestTarget, Serialization, Target, WireError } from './protocol.ts';

/** Who sent a message: the sender's app and worker id. */
export interface Sender {
  app: string;
  id: number;
}

/** A topic handler. For a request, its return value (or its promise's value) is the reply. */
export type Handler = (data: unknown, from: number, sender: Sender) => unknown;

/** Options of request(). */
export interface RequestOptions {
  /** Milliseconds to wait for the reply (default 5000). */
  timeout?: number;
}

/** How long a request waits for its reply unless told otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

/** The IPC endpoint a channel writes to: `process` in a worker, a fake in unit tests. */
export interface Port {
  readonly connected: boolean;
  /** Write one message; `done` receives the error when it could not be written. */
  send(message: unknown, done: (error: Error | null) => void): void;
}

/** Who a channel speaks for, and how its IPC channel encodes messages. */
export interface ChannelOptions {
  port: Port;
  app: string;
  id: number;
  serialization: Serialization;
}

/** One worker's end of messaging: what nsup/worker's send, on and request call. */
export class Channel {
  private readonly port: Port;
  private readonly app: string;
  private readonly id: number;
  private readonly serialization: Serialization;
  private readonly handlers = new Map<string, Handler[]>();
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 1;
  // One handler per primary message type; a missing one is a type error.
  private readonly dispatch: { [T in PrimaryMessage['type']]: (message: Extract<PrimaryMessage, { type: T }>) => void } = {
    deliver: (message) => this.onDeliver(message),
    invoke: (message) => this.onInvoke(message),
    reply: (message) => this.onReply(message),
  };

  constructor(options: ChannelOptions) {
    this.port = options.port;
    this.app = options.app;
    this.id = options.id;
    this.serialization = options.serialization;
  }

  /** Requests waiting for their reply (for tests and leak checks). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Fire-and-forget `data` to `to`'s handlers of `topic`; throws at once when it cannot be sent. */
  send(to: Target, topic: string, data?: unknown, verb = 'send'): void {
    if (!isTarget(to)) {
      throw invalid(`${verb}(): the target must be a worker id (an integer >= 0), 'all', 'others' or { app, id? }; got ${render(to)}`);
    }
    checkTopic(verb, topic);
    checkPayload(data, `${verb}('${topic}')`, this.serialization);
    // A closed channel means this worker is exiting: fire-and-forget has nobody to tell.
    if (this.port.connected) this.write({ nsup: NSUP_IPC, type: 'send', to, topic, data }, `${verb}('${topic}')`);
  }

  /** Ask one worker's handler of `topic`; resolves with its return value, rejects with a coded Error. */
  request(to: RequestTarget, topic: string, data?: unknown, options: RequestOptions = {}): Promise<unknown> {
    let timeoutMs: number;
    try {
      if (!isRequestTarget(to)) throw invalid(`request(): the target must be a worker id (an integer >= 0) or { app, id }; got ${render(to)}`);
      checkTopic('request', topic);
      timeoutMs = checkTimeout(options);
      checkPayload(data, `request('${topic}')`, this.serialization);
    } catch (error) {
      return Promise.reject(error);
    }
    const target = typeof to === 'number' ? `worker ${to} of app '${this.app}'` : `worker ${to.id} of app '${to.app}'`;
    if (!this.port.connected) {
      return Promise.reject(ipcError(IPC_ERROR.disconnected, `request('${topic}') to ${target}: the IPC channel to the nsup primary is closed (this worker is exiting).`));
    }
    const seq = this.nextSeq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.expire(seq), timeoutMs);
      this.pending.set(seq, { resolve, reject, timer, topic, target, timeoutMs });
      try {
        this.write({ nsup: NSUP_IPC, type: 'request', seq, to, topic, data }, `request('${topic}')`);
      } catch (error) {
        this.settle(seq, error as Error);
      }
    });
  }

  /** Handle `topic`; returns a function that removes the handler (idempotent). */
  on(topic: string, handler: Handler): () => void {
    checkTopic('on', topic);
    if (typeof handler !== 'function') throw invalid(`on('${topic}'): the handler must be a function; got ${render(handler)}`);
    const list = this.handlers.get(topic);
    if (list) list.push(handler);
    else this.handlers.set(topic, [handler]);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const now = this.handlers.get(topic);
      const index = now?.indexOf(handler) ?? -1;
      if (!now || index < 0) return;
      now.splice(index, 1);
      if (now.length === 0) this.handlers.delete(topic);
    };
  }

  /** A message from the primary; returns false when it is not a messaging message (shutdown, the app's own). */
  receive(message: unknown): boolean {
    const parsed = parsePrimaryMessage(message);
    if (!parsed) return false;
    (this.dispatch[parsed.type] as (m: PrimaryMessage) => void)(parsed);
    return true;
  }

  /** The IPC channel closed: fail every pending request at once. */
  close(): void {
    for (const [seq, entry] of this.pending) {
      this.settle(seq, ipcError(IPC_ERROR.disconnected, `request('${entry.topic}') to ${entry.target}: the IPC channel to the nsup primary closed before the reply came (this worker is exiting).`));
    }
  }

  private onDeliver(message: DeliverMessage): void {
    const list = this.handlers.get(message.topic);
    if (!list) return;
    const sender: Sender = { app: message.fromApp, id: message.from };
    // A copy: a handler may (un)subscribe while we iterate.
    if (list.length === 1) callHandler(list[0]!, message, sender);
    else for (const handler of [...list]) callHandler(handler, message, sender);
  }

  private onInvoke(message: InvokeMessage): void {
    const handler = this.handlers.get(message.topic)?.[0];
    if (!handler) {
      const text = `worker ${this.id} of app '${this.app}' has no handler for '${message.topic}'. Register one there with on('${message.topic}', fn).`;
      return this.respond(message, { ok: false, error: { code: IPC_ERROR.noHandler, message: text } });
    }
    let result: unknown;
    try {
      result = handler(message.data, message.from, { app: message.fromApp, id: message.from });
    } catch (error) {
      return this.respond(message, { ok: false, error: this.failure(message.topic, error) });
    }
    if (!isThenable(result)) return this.respond(message, { ok: true, data: result });
    result.then(
      (data) => this.respond(message, { ok: true, data }),
      (error: unknown) => this.respond(message, { ok: false, error: this.failure(message.topic, error) }),
    );
  }

  private onReply(message: ReplyMessage): void {
    // No entry: the request timed out (its cancel crossed the reply), nothing waits any more.
    if (!this.pending.has(message.seq)) return;
    this.settle(message.seq, message.ok ? { value: message.data } : fromWire(message.error));
  }

  /** Send a request's outcome back through the primary; a reply that cannot be sent becomes an error. */
  private respond(invoke: InvokeMessage, outcome: Outcome): void {
    if (!this.port.connected) return;
    const base = { nsup: NSUP_IPC, type: 'response', seq: invoke.seq, via: invoke.via } as const;
    if (outcome.ok) {
      try {
        checkPayload(outcome.data, `the reply of worker ${this.id} of app '${this.app}' to request('${invoke.topic}')`, this.serialization);
        return this.write({ ...base, ok: true, data: outcome.data }, 'reply');
      } catch (error) {
        const { code, message } = error as { code?: string; message: string };
        outcome = { ok: false, error: { code: code === IPC_ERROR.tooLarge ? IPC_ERROR.tooLarge : IPC_ERROR.unsendable, message } };
      }
    }
    try {
      this.write({ ...base, ok: false, error: outcome.error }, 'reply');
    } catch (error) {
      // Only plain strings are left to encode; if even that fails, the requester times out.
      console.error(`nsup: could not send the reply to request('${invoke.topic}'):`, error);
    }
  }

  /** A handler's error as it crosses the channel: its message in ours, the original as `cause`. */
  private failure(topic: string, error: unknown): WireError {
    const cause = error instanceof Error
      ? { name: error.name, message: error.message, stack: error.stack?.slice(0, 4000), ...codeOf(error) }
      : { name: 'Error', message: String(error) };
    return { code: IPC_ERROR.handlerFailed, message: `the handler for '${topic}' on worker ${this.id} of app '${this.app}' failed: ${cause.message}`, cause };
  }

  private expire(seq: number): void {
    const entry = this.pending.get(seq);
    if (!entry) return;
    this.settle(seq, ipcError(IPC_ERROR.timeout, `request('${entry.topic}') to ${entry.target} got no reply within ${entry.timeoutMs} ms. Raise { timeout } or make the handler answer sooner.`));
    // Let the primary forget it too; a late reply is then dropped there. Best effort: on a closing
    // channel the primary forgets it anyway when this worker exits.
    if (!this.port.connected) return;
    try {
      this.write({ nsup: NSUP_IPC, type: 'cancel', seq }, 'cancel');
    } catch {}
  }

  /** Remove a pending request and resolve (`{ value }`) or reject (an Error) it. */
  private settle(seq: number, outcome: { value: unknown } | Error): void {
    const entry = this.pending.get(seq);
    if (!entry) return;
    this.pending.delete(seq);
    clearTimeout(entry.timer);
    if (outcome instanceof Error) entry.reject(outcome);
    else entry.resolve(outcome.value);
  }

  /** process.send with a callback (without one, a write on a closing channel emits 'error' on process). */
  private write(message: unknown, what: string): void {
    try {
      this.port.send(message, ignore);
    } catch (error) {
      // checkPayload ran first, so this is rare: a getter that throws, data changed in between.
      const detail = error instanceof Error ? error.message : String(error);
      throw ipcError(IPC_ERROR.unsendable, `${what}: the message could not be written to the IPC channel: ${detail}`, { kind: 'TypeError', cause: error });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** A request waiting for its reply. */
interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  topic: string;
  /** "worker 1 of app 'web'", for messages. */
  target: string;
  timeoutMs: number;
}

const MAX_TIMEOUT_MS = 2_147_483_647;

function ignore(): void {}

function invalid(message: string): Error {
  return ipcError(IPC_ERROR.invalidArgument, message, { kind: 'TypeError' });
}

function checkTopic(verb: string, topic: unknown): asserts topic is string {
  if (!isTopic(topic)) throw invalid(`${verb}(): the topic must be a non-empty string of at most ${MAX_TOPIC_LENGTH} characters; got ${render(topic)}`);
}

function checkTimeout(options: RequestOptions): number {
  if (typeof options !== 'object' || options === null) throw invalid(`request(): options must be an object like { timeout: 1000 }; got ${render(options)}`);
  const timeout = options.timeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (typeof timeout === 'number' && timeout > 0 && timeout <= MAX_TIMEOUT_MS) return timeout;
  throw ipcError(IPC_ERROR.invalidArgument, `request(): timeout must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS}; got ${render(timeout)}`, { kind: 'RangeError' });
}

/** An Error from the wire: the relay's or the target's message and code, the handler's own error as `cause`. */
function fromWire(wire: WireError): Error {
  const c = wire.cause;
  const cause = c && Object.assign(new Error(c.message), { name: c.name, ...(c.stack ? { stack: c.stack } : {}), ...(c.code ? { code: c.code } : {}) });
  return ipcError(wire.code, wire.message, cause ? { cause } : {});
}

/** Run a handler of a plain message; nobody waits for it, so its failure goes to stderr. */
function callHandler(handler: Handler, message: DeliverMessage, sender: Sender): void {
  try {
    const result = handler(message.data, message.from, sender);
    if (isThenable(result)) result.then(undefined, (error: unknown) => reportHandlerError(message, error));
  } catch (error) {
    reportHandlerError(message, error);
  }
}

function reportHandlerError(message: DeliverMessage, error: unknown): void {
  console.error(`nsup: the handler for '${message.topic}' (message from worker ${message.from} of app '${message.fromApp}') failed:`, error);
}

function codeOf(error: Error): { code?: string } {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? { code } : {};
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** A value in an error message: short, with its type. */
function render(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  return `${text} (${value === null ? 'null' : typeof value})`;
}
