// The supervisor's table as plain data: what should run (desired state, commands) and what runs
// (workers and the facts observed about them). observe.ts writes the facts and commands,
// reconcile.ts the decisions, the Supervisor's fork effect the pid: each field says its writer.
import type { ResolvedApp } from '../config/define.ts';
import { emptySchedule, type AppSchedule } from '../jobs/model.ts';
import type { Logger } from '../log/logger.ts';
import type { AppState } from './app-state.ts';
import type { StopReason } from './backoff.ts';
import type { Lifecycle, WorkerState } from './worker-state.ts';

/** One worker process of an app slot. Gone from the table once its exit is observed. */
export interface WorkerModel {
  /** Unique for the supervisor's lifetime; events refer to workers by key. */
  readonly key: number;
  readonly app: string;
  /** Stable slot 0..n-1 (NSUP_WORKER_ID), kept across restarts and reloads. */
  readonly slot: number;
  readonly generation: number;
  /** The config it was forked with (a reload's new config for the incoming generation). */
  readonly config: ResolvedApp;
  readonly forkedAt: number;
  /** Fork effect: the process id (null when the fork failed or before it ran). */
  pid: number | null;
  /** Fork effect: a child logger carrying app, worker, pid and gen. */
  log: Logger;
  /** Observed: how far the process got (only ever moves forward). */
  lifecycle: Lifecycle;
  /** Observed: every address it listens on (':3000', 'host:3000', a socket path), in order. */
  addresses: string[];
  /** Reconcile: when it first counted as up by its readyWhen (readiness.ts); it stays up. */
  upAt: number | null;
  /** Reconcile: the slow-start warning (not up after listenTimeout, outside a reload) was logged. */
  slowWarned: boolean;
  /** Observed: its open connections by kind, as the worker last reported them. */
  connections: ConnectionCounts | null;
  /** Observed: its drain and the app's shutdown listeners ran; it waits for its event loop to empty. */
  shutdownDone: boolean;
  /** Observed: the last event-loop heartbeat. */
  lastHeartbeat: number | null;
  /** Observed: resident memory at the last usage sample. */
  rssBytes: number | null;
  /** Decided: why nsup asked it to stop; set before the stop is sent, so the exit is never a crash. */
  stopReason: StopReason | null;
  /** Decided: when the stop was asked (the kill deadline counts from here). */
  stopAt: number | null;
  /** Decided: SIGKILL was sent. */
  killed: boolean;
  /** Decided: it must be up by then (a reload's new worker, a replacement), or it failed. */
  upBy: number | null;
  /** Decided: the key of the worker this one replaces (memory limit, hung); null once it took over. */
  replaces: number | null;
  /** Fork effect: the real paths (symlinks resolved) of its cwd and script when it was forked: the release it runs. */
  release: { cwd: string; script: string } | null;
  /** Decided: failed replacements of this worker so far, and no new attempt before `replaceAfter`. */
  replaceFailures: number;
  replaceAfter: number;
  /** Decided at fork (maxRequests + its jitter): it asks to be replaced after this many requests; null: maxRequests is off. */
  readonly requestLimit: number | null;
  /** Observed: the requests it served so far (its recycle and connections messages), for maxRequests; null: maxRequests off or not reported yet. */
  requests: number | null;
  /** Observed: its live figures from its last report (once a second); null before the first. */
  live: LiveFigures | null;
}

/** A worker's live figures as it last reported them (worker/live.ts), over its last report interval. */
export interface LiveFigures {
  /** Served since it started (HTTP requests, WebSocket upgrades, event streams). */
  requests: number;
  reqPerSec: number;
  /** Event-loop utilisation, 0..1. */
  elu: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

/** One finished rolling reload of an app (its last RELOAD_HISTORY are kept for status). */
export interface ReloadRecord {
  /** The generation it rolled to (or tried to, when rolled back). */
  generation: number;
  trigger: string;
  /** Clock time (ms) it started. */
  startedAt: number;
  durationMs: number;
  ok: boolean;
  /** Why it rolled back. */
  reason?: string;
}

/** How many finished reloads each app keeps (AppModel.reloads). */
export const RELOAD_HISTORY = 20;

/** A worker's open connections by kind (the worker runtime reports them when they change). */
export interface ConnectionCounts {
  /** HTTP requests in progress (SSE streams excluded). */
  inFlight: number;
  /** Open HTTP connections with no request in progress. */
  keepAlive: number;
  websocket: number;
  /** Open text/event-stream responses. */
  stream: number;
}

/** Per-slot history that outlives each process. Written by reconcile only. */
export interface SlotModel {
  /** Crash restarts of this slot (status); kept across reloads. */
  restarts: number;
  /** Consecutive failures; reset by a worker that stays up for restart.minUptime. */
  failures: number;
  /** restart.maxRestarts was hit: no restart until a reload or restart. */
  halted: boolean;
  /** A scheduled restart: the slot gets a worker again at this time. */
  retryAt: number | null;
  /** Its worker exited by itself with this code of restart.stopExitCodes: done, no restart until a reload, scale or restart. */
  doneWith: number | null;
}

/** The last unexpected exit of an app, kept for status and crash-loop reports. */
export interface Failure {
  at: string;
  worker: number;
  pid: number | null;
  code: number | null;
  signal: string | null;
  reason: string;
  stderr: string[];
}

/** How a reload ended. */
export interface ReloadResult {
  app: string;
  ok: boolean;
  generation: number;
  durationMs: number;
  /** Why it rolled back (or was refused). */
  reason?: string;
}

/** The answer to an app operation (scale, stop, restart). */
export interface AppOpResult {
  ok: boolean;
  app: string;
  message: string;
}

/** A rolling reload under way: the incoming generation surges next to the serving one, then the serving one retires. */
export interface ReloadRun {
  readonly generation: number;
  readonly config: ResolvedApp;
  readonly trigger: string;
  readonly startedAt: number;
  /** surge: new workers come up next to the old; retire: committed, the old ones drain. */
  phase: 'surge' | 'retire';
  /** A singleton app (before or after): the old worker is stopped first, and the new one forks once it exited. */
  readonly handover: boolean;
  /** Slot → why that new worker failed before the reload committed. */
  failed: Map<number, string>;
  finish: (result: ReloadResult) => void;
}

/** An app operation under way: stop (then the app is gone) or restart (stop all, then start all). */
export type AppOp =
  | { kind: 'stop'; finish: (result: AppOpResult) => void }
  | { kind: 'restart'; phase: 'stopping' | 'starting'; upBy: number | null; finish: (result: AppOpResult) => void };

/** A request that reconcile acts on (or refuses) in its next pass. */
export type Command =
  | { kind: 'reload'; config: ResolvedApp; trigger: string; finish: (result: ReloadResult) => void }
  | { kind: 'stop' | 'restart'; finish: (result: AppOpResult) => void }
  /** To a count, or (to null) by a delta of the count when the command runs. */
  | { kind: 'scale'; to: number | null; delta: number; finish: (result: AppOpResult) => void };

/** A worker's exit, as observed; reconcile turns it into a decision (restart, backoff, rollback, …). */
export interface ExitFact {
  worker: WorkerModel;
  at: number;
  code: number | null;
  signal: string | null;
  /** One-line explanation (explain-exit.ts), or `stopped (reason)` for an exit nsup asked for. */
  reason: string;
  stderr: string[];
}

/** One app under supervision. */
export interface AppModel {
  readonly name: string;
  /** Reconcile: the serving config and generation (a reload commits a new pair). */
  config: ResolvedApp;
  generation: number;
  /** Reconcile: the highest generation ever forked (a new one is always higher). */
  lastGeneration: number;
  /** Reconcile: a count set at run time (nsup scale, SIGTTIN/SIGTTOU), kept across reloads. */
  scaledTo: number | null;
  /** Reconcile: one entry per desired slot (its length is the desired count). */
  slots: SlotModel[];
  /** Observe adds forked workers' facts, reconcile adds workers; the exit observation removes them. */
  workers: WorkerModel[];
  /** Observe: exits not yet decided on. Reconcile empties it. */
  exits: ExitFact[];
  /** Observe: commands not yet acted on. Reconcile empties it. */
  inbox: Command[];
  /** Reconcile. */
  reload: ReloadRun | null;
  op: AppOp | null;
  state: AppState;
  lastFailure: Failure | null;
  lastReload: ReloadResult | null;
  /** Reconcile: the last RELOAD_HISTORY finished reloads, oldest first. */
  reloads: ReloadRecord[];
  /** Reconcile: monotonic counters since start (Prometheus). recycledRequests: workers replaced for maxRequests; recycleTicks: recycle schedule ticks. */
  counters: { restarts: number; reloadsDone: number; reloadsRolledBack: number; recycledRequests: number; recycleTicks: number };
  /** The app's jobs and recycle schedule (src/jobs/model.ts): they belong to the app, not to a generation or a worker. */
  scheduled: AppSchedule;
}

/** The whole table. */
export interface CoreModel {
  apps: Map<string, AppModel>;
  /** Observe (and an app stop that leaves no app): stop requests, in order. Reconcile empties it. */
  stopRequests: Array<{ source: string; exitCode: number }>;
  /** Reconcile: the stop under way (a second request forces it). */
  stopping: { source: string; forced: boolean; exitCode: number } | null;
  /** Reconcile: the supervisor finished (every worker gone after a stop). */
  finished: boolean;
  /** Reconcile (the start command): supervising has begun. */
  started: boolean;
  /** The last tick each job ran for before this start (the ledger; key app\0job\0schedule\0timezone): for the missed-while-down report. */
  lastTicks: ReadonlyMap<string, number>;
}

/** Build the table for a config's apps: every slot empty, nothing running yet. */
export function createModel(apps: readonly ResolvedApp[], lastTicks: ReadonlyMap<string, number> = new Map()): CoreModel {
  const model: CoreModel = { apps: new Map(), stopRequests: [], stopping: null, finished: false, started: false, lastTicks };
  for (const config of apps) {
    model.apps.set(config.name, {
      name: config.name,
      config,
      generation: 1,
      lastGeneration: 1,
      scaledTo: null,
      slots: freshSlots(config.instances),
      workers: [],
      exits: [],
      inbox: [],
      reload: null,
      op: null,
      state: 'starting',
      lastFailure: null,
      lastReload: null,
      reloads: [],
      counters: { restarts: 0, reloadsDone: 0, reloadsRolledBack: 0, recycledRequests: 0, recycleTicks: 0 },
      scheduled: emptySchedule(),
    });
  }
  return model;
}

/** Fresh per-slot stats for `n` slots. */
export function freshSlots(n: number): SlotModel[] {
  return Array.from({ length: n }, () => ({ restarts: 0, failures: 0, halted: false, retryAt: null, doneWith: null }));
}

/** Whether a worker counts towards serving capacity: up by its app's readyWhen, and not told to stop. */
export function isUp(worker: WorkerModel): boolean {
  return worker.stopReason === null && worker.upAt !== null;
}

/** What `nsup status` shows for a worker. */
export function displayState(worker: Pick<WorkerModel, 'stopReason' | 'lifecycle'>): WorkerState {
  return worker.stopReason !== null ? 'stopping' : worker.lifecycle;
}

/** The workers that cover `slot` of the serving generation: not told to stop. */
export function slotWorkers<W extends Pick<WorkerModel, 'slot' | 'generation' | 'stopReason'>>(app: { readonly workers: readonly W[]; readonly generation: number }, slot: number): W[] {
  return app.workers.filter((w) => w.slot === slot && w.generation === app.generation && w.stopReason === null);
}

// Per slot questions are answered for every slot in one pass over the workers: asking slot by slot
// made each reconcile pass O(slots × workers), so a reload of N workers cost O(N³) (issue 14).

/** The slots of the serving generation with a worker not told to stop (those slotWorkers() finds one for). */
export function coveredSlots(app: { readonly workers: readonly Pick<WorkerModel, 'slot' | 'generation' | 'stopReason'>[]; readonly generation: number }): Set<number> {
  const slots = new Set<number>();
  for (const w of app.workers) if (w.generation === app.generation && w.stopReason === null) slots.add(w.slot);
  return slots;
}

/** The slots with a worker up in the serving generation. */
export function upSlots(app: AppModel): Set<number> {
  const slots = new Set<number>();
  for (const w of app.workers) if (w.generation === app.generation && isUp(w)) slots.add(w.slot);
  return slots;
}

/** "worker 1 of web (pid 4242)" */
export function label(worker: Pick<WorkerModel, 'slot' | 'app' | 'pid'>): string {
  return `worker ${worker.slot} of ${worker.app}${worker.pid ? ` (pid ${worker.pid})` : ''}`;
}

/** The stderr lines worth keeping in a failure report: Node's internal stack frames are noise. */
export function reportLines(stderr: readonly string[]): string[] {
  return stderr.filter((line) => !/^\s+at (?:async )?(?:.*\()?node:internal\//.test(line)).slice(-20);
}
