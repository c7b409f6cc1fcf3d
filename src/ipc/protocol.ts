// nsup's internal IPC messages between the primary and its workers. Every one carries `nsup: 1`,
// so messages that user code sends with plain process.send pass through untouched.
// Worker messaging (issue 5) uses one message type per direction: a worker sends `send`,
// `request`, `response` and `cancel`; the primary sends `deliver`, `invoke` and `reply`.

/** Marker and version of nsup's internal messages. */
export const NSUP_IPC = 1;

/** Why a worker is asked to drain: onDrain hooks get it, and WebSockets get 1001 on 'stop', 1012 otherwise. */
export type DrainReason = 'reload' | 'stop' | 'scale' | 'replace';

/** Primary → worker: drain and exit within `timeoutMs`. */
export interface ShutdownMessage {
  nsup: typeof NSUP_IPC;
  type: 'shutdown';
  timeoutMs: number;
  reason: DrainReason;
}

/** Worker → primary: the app called ready() (waitReady apps count as up only after this). */
export interface ReadyMessage {
  nsup: typeof NSUP_IPC;
  type: 'ready';
}

/** Worker → primary, every few hundred ms with heartbeatTimeout: "my event loop runs". */
export interface HeartbeatMessage {
  nsup: typeof NSUP_IPC;
  type: 'heartbeat';
}

/** Worker → primary, checked once a second and sent when something changed: its open connections by kind, its request count and its live figures, for status, monit, the dashboard and /metrics. */
export interface ConnectionsMessage {
  nsup: typeof NSUP_IPC;
  type: 'connections';
  /** HTTP requests in progress, SSE streams excluded. */
  inFlight: number;
  /** Open HTTP connections with no request in progress. */
  keepAlive: number;
  /** Open upgraded WebSocket connections. */
  websocket: number;
  /** Open text/event-stream responses. */
  stream: number;
  /** The requests it served so far (WebSocket upgrades and event streams count). Always sent since issue 15 (before: with maxRequests only). */
  requests?: number;
  /** Its figures over the last report interval (worker/live.ts); absent from runtimes before issue 15. */
  live?: LiveReport;
}

/** A worker's live figures over its last report interval (one second). */
export interface LiveReport {
  /** Requests served per second. */
  reqPerSec: number;
  /** Event-loop utilisation, 0..1. */
  elu: number;
  /** How late its event loop ran timers, in ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

/** Worker → primary, once, with maxRequests: it served its limit (NSUP_MAX_REQUESTS) and asks to be replaced. */
export interface RecycleMessage {
  nsup: typeof NSUP_IPC;
  type: 'recycle';
  requests: number;
}

/** Whether a worker's message says it reached its maxRequests limit. */
export function isRecycleMessage(message: unknown): message is RecycleMessage {
  return isInternal(message) && (message as { type: string }).type === 'recycle' && typeof (message as { requests?: unknown }).requests === 'number';
}

/**
 * Worker → primary: its drain ran and the app's shutdown listeners returned without a promise; it
 * disconnects now and is left to end by itself (a SIGKILL at killTimeout then says why).
 */
export interface ShutdownDoneMessage {
  nsup: typeof NSUP_IPC;
  type: 'shutdown-done';
}

/** Whether a worker's message says its shutdown code ran and it waits for its event loop to empty. */
export function isShutdownDone(message: unknown): message is ShutdownDoneMessage {
  return isInternal(message) && (message as { type: string }).type === 'shutdown-done';
}

/** Whether a worker's message reports its connection counts. */
export function isConnectionsMessage(message: unknown): message is ConnectionsMessage {
  return isInternal(message) && (message as { type: string }).type === 'connections';
}

/** Whether a worker's message is an event-loop heartbeat. */
export function isHeartbeat(message: unknown): boolean {
  return isInternal(message) && (message as { type: string }).type === 'heartbeat';
}

/** How an app's IPC channel encodes messages (the app's `serialization` option). */
export type Serialization = 'json' | 'advanced';

/** Where a message goes: a worker id of the sender's app, all of them, all but the sender, or another app's worker (id omitted: every worker of it). */
export type Target = number | 'all' | 'others' | { app: string; id?: number };

/** Where a request goes: exactly one worker, of the sender's app or of another app. */
export type RequestTarget = number | { app: string; id: number };

/** Codes of the errors messaging raises (`error.code`); the same code crosses the channel. */
export const IPC_ERROR = {
  /** The target worker or app does not exist or is not running right now. */
  noTarget: 'NSUP_ERR_IPC_NO_TARGET',
  /** The target exited (or was stopped and exited) before it answered. */
  targetExited: 'NSUP_ERR_IPC_TARGET_EXITED',
  /** The target has no handler for the topic. */
  noHandler: 'NSUP_ERR_IPC_NO_HANDLER',
  /** The target's handler threw or rejected; the original error is the `cause`. */
  handlerFailed: 'NSUP_ERR_IPC_HANDLER_FAILED',
  /** No reply within the request's timeout. */
  timeout: 'NSUP_ERR_IPC_TIMEOUT',
  /** The data cannot be encoded with the channel's serialization (function, BigInt in json, cycle …). */
  unsendable: 'NSUP_ERR_IPC_UNSENDABLE',
  /** The data is over the per-message size limit. */
  tooLarge: 'NSUP_ERR_IPC_TOO_LARGE',
  /** A bad target, topic or option. */
  invalidArgument: 'NSUP_ERR_IPC_INVALID_ARGUMENT',
  /** The IPC channel to the primary is closed (the worker is exiting). */
  disconnected: 'NSUP_ERR_IPC_DISCONNECTED',
  /** request() outside nsup (plain `node app.js`). */
  notUnderNsup: 'NSUP_ERR_IPC_NOT_UNDER_NSUP',
} as const;

/** One of IPC_ERROR's codes. */
export type IpcErrorCode = (typeof IPC_ERROR)[keyof typeof IPC_ERROR];

/** An Error (a TypeError or RangeError for bad input) carrying one of IPC_ERROR's codes. */
export function ipcError(code: IpcErrorCode, message: string, options: { kind?: 'TypeError' | 'RangeError'; cause?: unknown } = {}): Error & { code: IpcErrorCode } {
  const Kind = options.kind === 'TypeError' ? TypeError : options.kind === 'RangeError' ? RangeError : Error;
  const error = new Kind(message, options.cause === undefined ? undefined : { cause: options.cause });
  return Object.assign(error, { code });
}

/** An error as it crosses the channel; `cause` is a handler's own error. */
export interface WireError {
  code: IpcErrorCode;
  message: string;
  cause?: { name: string; message: string; stack?: string; code?: string };
}

/** The outcome of a request, as it crosses the channel. */
export type Outcome = { ok: true; data?: unknown } | { ok: false; error: WireError };

/** Worker → primary: fire-and-forget message to `to`. */
export interface SendMessage {
  nsup: typeof NSUP_IPC;
  type: 'send';
  to: Target;
  topic: string;
  data?: unknown;
}

/** Worker → primary: a request; the reply comes back as `reply` with the same `seq`. */
export interface RequestMessage {
  nsup: typeof NSUP_IPC;
  type: 'request';
  seq: number;
  to: RequestTarget;
  topic: string;
  data?: unknown;
}

/** Worker → primary: the answer to an `invoke` (`seq` and `via` copied from it). */
export type ResponseMessage = { nsup: typeof NSUP_IPC; type: 'response'; seq: number; via: number } & Outcome;

/** Worker → primary: the requester stopped waiting (timeout); forget request `seq`. */
export interface CancelMessage {
  nsup: typeof NSUP_IPC;
  type: 'cancel';
  seq: number;
}

/** `from` of a message that came from outside the cluster (`nsup send`); its `fromApp` is 'nsup'. */
export const FROM_OUTSIDE = -1;

/** Primary → worker: a message for the topic's handlers. `from` is the sender's worker id (FROM_OUTSIDE for nsup send). */
export interface DeliverMessage {
  nsup: typeof NSUP_IPC;
  type: 'deliver';
  topic: string;
  data?: unknown;
  from: number;
  fromApp: string;
}

/** Primary → worker: a request to answer with a `response` carrying `seq` and `via` (the requester's key). */
export interface InvokeMessage {
  nsup: typeof NSUP_IPC;
  type: 'invoke';
  seq: number;
  via: number;
  topic: string;
  data?: unknown;
  from: number;
  fromApp: string;
}

/** Primary → worker: the outcome of this worker's request `seq`. */
export type ReplyMessage = { nsup: typeof NSUP_IPC; type: 'reply'; seq: number } & Outcome;

/** What a worker sends the primary for messaging. */
export type WorkerMessage = SendMessage | RequestMessage | ResponseMessage | CancelMessage;

/** What the primary sends a worker for messaging. */
export type PrimaryMessage = DeliverMessage | InvokeMessage | ReplyMessage;

/** Every internal message. */
export type InternalMessage = ShutdownMessage | ReadyMessage | WorkerMessage | PrimaryMessage;

/** Whether a message received over IPC is one of nsup's own. */
export function isInternal(message: unknown): message is InternalMessage {
  return typeof message === 'object' && message !== null && (message as { nsup?: unknown }).nsup === NSUP_IPC && typeof (message as { type?: unknown }).type === 'string';
}

/** Whether a worker's message means "ready": nsup's own, or PM2's `process.send('ready')`. */
export function isReadyMessage(message: unknown): boolean {
  return message === 'ready' || (isInternal(message) && message.type === 'ready');
}

/** Longest topic accepted (topics end up in error messages and log lines). */
export const MAX_TOPIC_LENGTH = 256;

/** Whether `value` is a topic: a non-empty string of at most MAX_TOPIC_LENGTH characters. */
export function isTopic(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_TOPIC_LENGTH;
}

/** Whether `value` is a worker id: an integer >= 0. */
export function isWorkerId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Whether `value` is a valid send() target. */
export function isTarget(value: unknown): value is Target {
  if (value === 'all' || value === 'others' || isWorkerId(value)) return true;
  if (typeof value !== 'object' || value === null) return false;
  const { app, id } = value as { app?: unknown; id?: unknown };
  return typeof app === 'string' && app !== '' && (id === undefined || isWorkerId(id));
}

/** Whether `value` is a valid request() target (one worker). */
export function isRequestTarget(value: unknown): value is RequestTarget {
  return isWorkerId(value) || (isTarget(value) && typeof value === 'object' && isWorkerId(value.id));
}

/** Check a worker's messaging message; returns it typed, or why it is malformed. */
export function parseWorkerMessage(message: unknown): WorkerMessage | string {
  if (!isInternal(message)) return 'not an nsup message';
  const m = message as unknown as Record<string, unknown>;
  switch (m.type) {
    case 'send':
      return !isTarget(m.to) ? "bad 'to'" : !isTopic(m.topic) ? "bad 'topic'" : (message as SendMessage);
    case 'request':
      return !isSeq(m.seq) ? "bad 'seq'" : !isRequestTarget(m.to) ? "bad 'to'" : !isTopic(m.topic) ? "bad 'topic'" : (message as RequestMessage);
    case 'response':
      return !isSeq(m.seq) || !isSeq(m.via) ? "bad 'seq' or 'via'" : !isOutcome(m) ? "bad 'ok'/'error'" : (message as ResponseMessage);
    case 'cancel':
      return isSeq(m.seq) ? (message as CancelMessage) : "bad 'seq'";
    default:
      return `unknown type ${JSON.stringify(String(m.type)).slice(0, 40)}`;
  }
}

/** Check a message from the primary; returns it typed, or null when it is not a messaging message. */
export function parsePrimaryMessage(message: unknown): PrimaryMessage | null {
  if (!isInternal(message)) return null;
  const m = message as unknown as Record<string, unknown>;
  switch (m.type) {
    case 'deliver':
      return isTopic(m.topic) && (isWorkerId(m.from) || m.from === FROM_OUTSIDE) && typeof m.fromApp === 'string' ? (message as DeliverMessage) : null;
    case 'invoke':
      return isSeq(m.seq) && isSeq(m.via) && isTopic(m.topic) && isWorkerId(m.from) && typeof m.fromApp === 'string' ? (message as InvokeMessage) : null;
    case 'reply':
      return isSeq(m.seq) && isOutcome(m) ? (message as ReplyMessage) : null;
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isOutcome(m: Record<string, unknown>): boolean {
  if (m.ok === true) return true;
  if (m.ok !== false || typeof m.error !== 'object' || m.error === null) return false;
  const error = m.error as Record<string, unknown>;
  return typeof error.code === 'string' && typeof error.message === 'string';
}
