// The primary's shell around the core: every input becomes an event on one queue; each event's
// facts are recorded (observe.ts), one reconcile pass decides (reconcile.ts), and this file alone
// carries the effects out: fork through the Spawner, the drain message, SIGKILL, job processes
// through the JobRunner, one timer for the earliest deadline. A handler that throws is logged and
// the supervising goes on.
import { realpathSync } from 'node:fs';
import type { ResolvedApp, ResolvedConfig } from '../config/define.ts';
import { ControlError } from '../errors.ts';
import { FROM_OUTSIDE, NSUP_IPC, isConnectionsMessage, isHeartbeat, isShutdownDone, isInternal, isReadyMessage, isRecycleMessage, type DeliverMessage, type DrainReason, type ShutdownMessage } from '../ipc/protocol.ts';
import type { JobRunOutcome } from '../jobs/model.ts';
import type { JobRunner } from '../jobs/runner.ts';
import { Relay, type RelayTarget } from '../ipc/relay.ts';
import type { Logger, Output } from '../log/logger.ts';
import { hashKey } from '../worker/connection-router.ts';
import type { SpawnedWorker, Spawner } from '../worker/spawn.ts';
import type { StopReason } from './backoff.ts';
import { systemClock, type Clock } from './clock.ts';
import { nextDeadline } from './deadlines.ts';
import { EventQueue, type SupervisorEvent } from './events.ts';
import { JobProcesses } from './job-processes.ts';
import { createModel, isUp, label, upSlots, type AppModel, type AppOpResult, type CoreModel, type ReloadResult, type SlotModel, type WorkerModel } from './model.ts';
import { findWorker, observe, type ObservedEvent } from './observe.ts';
import { sameAddress } from './readiness.ts';
import { reconcile, type Effect, type Pass } from './reconcile.ts';

/** How the supervisor talks to the outside world; spawner and clock are fakes in the simulation tests. */
export interface SupervisorOptions {
  config: ResolvedConfig;
  logger: Logger;
  spawner: Spawner;
  /** Where SIGUSR2's reopen goes; nothing when absent. */
  output?: Pick<Output, 'reopen'>;
  clock?: Clock;
  /** Starts the apps' job processes (processJobRunner); default: one that refuses, so a job run fails with why. */
  jobRunner?: JobRunner;
  /** The last tick each job ran for before this start (the ledger), for the missed-while-down report. */
  lastTicks?: ReadonlyMap<string, number>;
  /** [0, 1) for the per-worker maxRequests jitter; default Math.random (the simulation seeds it). */
  random?: () => number;
}

/** A read-only view of one worker. */
export type WorkerView = Readonly<Omit<WorkerModel, 'log'>>;

/** A read-only view of one app: what status, metrics and the control commands read. */
export interface AppView extends Readonly<Omit<AppModel, 'workers' | 'slots' | 'exits' | 'inbox'>> {
  readonly workers: readonly WorkerView[];
  readonly slots: readonly Readonly<SlotModel>[];
}

// Errors in a row after which the core is taken to be broken: drain everything and exit 1.
const MAX_ERRORS_IN_ROW = 3;

/** Supervises every app of a config until stopped; `done` resolves with the exit code. */
export class Supervisor {
  readonly done: Promise<number>;
  readonly logger: Logger;
  readonly startedAt: Date;
  private readonly model: CoreModel;
  private readonly spawner: Spawner;
  private readonly clock: Clock;
  private readonly output: Pick<Output, 'reopen'> | undefined;
  private readonly handles = new Map<number, SpawnedWorker>();
  private readonly jobs: JobProcesses;
  private readonly random: () => number;
  private readonly relay: Relay;
  private readonly queue: EventQueue<SupervisorEvent>;
  private nextKey = 1;
  private errorsInRow = 0;
  private armed: { at: number; cancel: () => void } | null = null;
  private finish: (code: number) => void = () => {};
  private finished = false;
  /** The core failed for good: only draining the processes is left. */
  private aborting = false;
  // The primary lives until it is stopped, even with no worker left (errored apps, all waiting).
  private readonly keepAlive = setInterval(() => {}, 1 << 30);
  /** Checks run after every event; one that returns true is done and removed. */
  private readonly watchers = new Set<() => boolean>();
  private readonly foreignListeners = new Set<(worker: WorkerView, message: unknown) => void>();
  private readonly stateListeners = new Set<(app: AppView) => void>();
  private readonly stoppingListeners = new Set<() => void>();
  private readonly recycleListeners = new Set<(app: AppView, pattern: string) => void>();

  constructor(options: SupervisorOptions) {
    this.logger = options.logger;
    this.spawner = options.spawner;
    this.clock = options.clock ?? systemClock;
    this.output = options.output;
    this.jobs = new JobProcesses(options.jobRunner, (event) => this.enqueue(event), this.logger);
    this.random = options.random ?? Math.random;
    this.startedAt = new Date(this.clock.now());
    this.model = createModel(options.config.apps, options.lastTicks);
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.relay = new Relay({ targets: (app) => this.relayTargets(app), apps: () => [...this.model.apps.keys()] }, this.logger);
    this.queue = new EventQueue(
      (event) => this.handle(event),
      (error, event) => this.contain(error, `handling ${event.type}`),
    );
  }

  /** Every app, read-only. */
  get apps(): ReadonlyMap<string, AppView> {
    return this.model.apps;
  }

  /** Whether a stop has begun. */
  get isStopping(): boolean {
    return this.model.stopping !== null;
  }

  /** Messages the IPC relay has delivered since start. */
  get messagesRelayed(): number {
    return this.relay.relayed;
  }

  /** The slots of the app that have a worker up in the serving generation. */
  upSlots(app: AppView): Set<number> {
    return upSlots(app as AppModel);
  }

  /** Fork every app's workers. */
  start(): void {
    for (const app of this.model.apps.values()) {
      const { name, instances, instancesSource } = app.config;
      this.logger.info({ event: 'app.instances', app: name, instances, source: instancesSource }, `${name}: ${instances} worker${instances === 1 ? '' : 's'} (${instancesSource})`);
    }
    this.enqueue({ type: 'start' });
  }

  /** Put an event on the queue (signal handlers, the reload controller and tests use this). */
  enqueue(event: SupervisorEvent): void {
    this.queue.push(event);
  }

  /** Stop, restart or scale an app (to a count, or by a delta); resolves once the operation has taken effect. */
  appOp(app: string, op: 'stop' | 'restart' | 'scale', change: { to?: number; delta?: number } = {}): Promise<AppOpResult> {
    return new Promise((finish) => this.enqueue({ type: 'app-op', app, op, ...change, finish }));
  }

  /** Roll `app` onto `config` (a fresh, validated copy of its config); resolves when done or rolled back. */
  reloadApp(app: string, config: ResolvedApp, trigger: string): Promise<ReloadResult> {
    return new Promise((finish) => this.enqueue({ type: 'reload-start', app, config, trigger, finish }));
  }

  /** Run one of an app's jobs now (nsup run); resolves with its result once it ended, or why it did not run. */
  runJob(app: string, job: string): Promise<JobRunOutcome> {
    return new Promise((finish) => this.enqueue({ type: 'job-run', app, job, finish }));
  }

  /** Deliver a message from outside (nsup send) to the `on(topic)` handlers of one worker or all; `from` is -1. */
  deliver(app: string, to: number | 'all', topic: string, data: unknown): Promise<{ delivered: number[] }> {
    return new Promise((resolve, reject) =>
      this.enqueue({ type: 'deliver', app, to, topic, data, reply: (result) => (result instanceof Error ? reject(result) : resolve(result)) }),
    );
  }

  /** Resolves true once every slot of these apps has a worker up (or is done); false after `timeoutMs` (never, without one). */
  whenUp(apps: string[] | 'all', timeoutMs?: number): Promise<boolean> {
    return this.until(() => {
      const names = apps === 'all' ? [...this.model.apps.keys()] : apps;
      return names.every((name) => {
        const app = this.model.apps.get(name);
        // A slot that is done (restart.stopExitCodes) has finished: nothing more to wait for.
        if (app === undefined || app.op !== null) return false;
        const up = upSlots(app);
        return app.slots.every((slot, index) => slot.doneWith !== null || up.has(index));
      });
    }, timeoutMs);
  }

  /** Resolves true when `check` holds (checked now and after every event); false after `timeoutMs` (never, without one). */
  until(check: () => boolean, timeoutMs?: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const cancel = timeoutMs === undefined || !Number.isFinite(timeoutMs) ? () => {} : this.clock.setTimer(timeoutMs, () => {
        this.watchers.delete(watcher);
        resolve(false);
      });
      const watcher = () => {
        if (!check()) return false;
        cancel();
        resolve(true);
        return true;
      };
      this.watchers.add(watcher);
    });
  }

  /** Called with every app state change (systemd STATUS=, …). */
  onAppState(fn: (app: AppView) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  /** Called once, when a stop of the whole supervisor begins. */
  onStopping(fn: () => void): () => void {
    this.stoppingListeners.add(fn);
    return () => this.stoppingListeners.delete(fn);
  }

  /** Called with each tick of an app's `recycle` schedule (start.ts turns it into a rolling reload). */
  onRecycle(fn: (app: AppView, pattern: string) => void): () => void {
    this.recycleListeners.add(fn);
    return () => this.recycleListeners.delete(fn);
  }

  /** Receive the apps' own IPC messages (not nsup's), e.g. prom-client's metric replies. */
  onForeignMessage(fn: (worker: WorkerView, message: unknown) => void): () => void {
    this.foreignListeners.add(fn);
    return () => this.foreignListeners.delete(fn);
  }

  /** Send an app-level message to one worker (prom-client's aggregator protocol); false when its channel is closed. */
  sendTo(key: number, message: unknown): boolean {
    return this.handles.get(key)?.send(message) ?? false;
  }

  /** An unrecoverable error outside the queue: drain every worker, then exit 1. */
  fail(error: unknown, where: string): void {
    if (this.aborting || this.finished) return;
    this.logger.fatal({ event: 'supervisor.error', where, err: error, fatal: true }, `nsup cannot go on (${where}): ${describe(error)}; draining every worker, then exiting 1`);
    this.abort();
  }

  // Record the event's facts (or do the shell's own I/O), then reconcile and apply.
  private handle(event: SupervisorEvent): void {
    const now = this.clock.now();
    if (this.aborting) {
      if (event.type === 'worker-exit') this.handles.delete(event.key);
      if (this.handles.size === 0 && this.jobs.size === 0) this.exit(1);
      return;
    }
    if (this.dispatch(event)) {
      observe(this.model, event as ObservedEvent, { now, logger: this.logger });
      this.settle(now);
    }
    for (const watcher of this.watchers) if (watcher()) this.watchers.delete(watcher);
  }

  /** The shell's part of an event; returns whether the event carries facts for the table. */
  private dispatch(event: SupervisorEvent): boolean {
    switch (event.type) {
      case 'worker-exit': {
        this.handles.delete(event.key);
        this.relay.onWorkerExit(event.key);
        return true;
      }
      case 'worker-message': {
        const { message } = event;
        // The recycle message is the core's own (maxRequests): never relayed to the app.
        if (isHeartbeat(message) || isReadyMessage(message) || isConnectionsMessage(message) || isShutdownDone(message) || isRecycleMessage(message)) return true;
        const worker = findWorker(this.model, event.key);
        if (!worker) return false;
        if (isInternal(message)) this.relay.onMessage(this.relayTarget(worker), message);
        // Anything else is the app's own IPC (e.g. prom-client's aggregator): passed on untouched.
        else for (const listener of this.foreignListeners) listener(worker, message);
        return false;
      }
      case 'deliver':
        event.reply(this.deliverNow(event.app, event.to, event.topic, event.data));
        return false;
      case 'reopen-logs':
        this.output?.reopen();
        this.logger.info({ event: 'signal', signal: 'SIGUSR2' }, 'SIGUSR2: log files reopened');
        return false;
      default:
        return true;
    }
  }

  // One reconcile pass and its effects; then the one timer for the next deadline.
  private settle(now: number): void {
    const pass: Pass = { now, logger: this.logger, effects: [], newKey: () => this.nextKey++, random: this.random };
    try {
      reconcile(this.model, pass);
      this.errorsInRow = 0;
    } catch (error) {
      this.contain(error, 'reconciling');
    }
    // Effects decided before a failure are still carried out: the table already counts on them.
    for (const effect of pass.effects) {
      try {
        this.apply(effect);
      } catch (error) {
        // One effect failing (a listener's bug) says nothing about the core: it never counts towards giving up.
        this.contain(error, `applying ${effect.kind}`, false);
      }
    }
    if (this.aborting) return;
    try {
      this.arm(now);
    } catch (error) {
      this.contain(error, 'arming the timer');
    }
  }

  private apply(effect: Effect): void {
    switch (effect.kind) {
      case 'fork':
        return this.fork(effect.worker, effect.purpose);
      case 'shutdown':
        return this.askToDrain(effect.worker.key, effect.timeoutMs, drainReason(effect.worker.stopReason));
      case 'kill':
        return this.handles.get(effect.worker.key)?.kill('SIGKILL');
      case 'app-state':
        for (const listener of this.stateListeners) listener(effect.app);
        return;
      case 'stopping':
        for (const listener of this.stoppingListeners) listener();
        return;
      case 'finished':
        return this.exit(effect.code);
      case 'job-start':
        return this.jobs.start(effect.app, effect.appConfig, effect.run);
      case 'job-signal':
        return this.jobs.kill(effect.run, effect.signal);
      case 'recycle': {
        const app = this.model.apps.get(effect.app);
        if (app) for (const listener of this.recycleListeners) listener(app, effect.pattern);
        return;
      }
    }
  }

  /**
   * Sticky routing: the worker that serves a client at `ip` on `port`. The address picks a slot
   * (so a client keeps its worker across that worker's restarts and, once a reload committed, moves
   * with its slot to the new generation); the slot's up worker of the serving generation takes it,
   * else one up worker that listens on the port, picked by the same hash. Read-only on the table.
   */
  private stickyTarget(appName: string, ip: string, port: number | null): SpawnedWorker | null {
    const app = this.model.apps.get(appName);
    if (!app || ip === '' || app.slots.length === 0) return null;
    const serves = (w: WorkerModel) => isUp(w) && (port === null || w.addresses.some((address) => sameAddress(address, `:${port}`)));
    const candidates = app.workers.filter(serves);
    if (candidates.length === 0) return null;
    const hash = hashKey(ip);
    const slot = hash % app.slots.length;
    const inSlot = candidates.filter((w) => w.slot === slot).sort((a, b) => Number(b.generation === app.generation) - Number(a.generation === app.generation));
    const chosen = inSlot[0] ?? candidates.sort((a, b) => a.slot - b.slot || a.key - b.key)[hash % candidates.length]!;
    return this.handles.get(chosen.key) ?? null;
  }

  /** The drain request: the IPC shutdown message, or SIGTERM when the channel is gone. */
  private askToDrain(key: number, timeoutMs: number, reason: DrainReason): void {
    const handle = this.handles.get(key);
    if (handle?.connected()) handle.send({ nsup: NSUP_IPC, type: 'shutdown', timeoutMs, reason } satisfies ShutdownMessage);
    else handle?.kill('SIGTERM');
  }

  private fork(worker: WorkerModel, purpose: 'slot' | 'reload' | 'replace'): void {
    const { key } = worker;
    // The release it runs: with cwd './current' and `ln -sfn releases/2 current`, each generation's real directory.
    worker.release = { cwd: realPath(worker.config.cwd), script: realPath(worker.config.script) };
    let handle: SpawnedWorker;
    try {
      handle = this.spawner.fork(
        {
          app: worker.config,
          slot: worker.slot,
          generation: worker.generation,
          requestLimit: worker.requestLimit,
          ...(worker.config.sticky ? { route: (ip: string, port: number | null) => this.stickyTarget(worker.app, ip, port) } : {}),
        },
        {
          online: () => this.enqueue({ type: 'worker-online', key }),
          listening: (address) => this.enqueue({ type: 'worker-listening', key, address }),
          message: (message) => this.enqueue({ type: 'worker-message', key, message }),
          exit: (code, signal, stderr) => this.enqueue({ type: 'worker-exit', key, code, signal, stderr }),
          error: (error) => worker.log.warn({ event: 'worker.ipc-error', err: error }, `${label(worker)} IPC error: ${error.message}`),
        },
      );
    } catch (error) {
      // EAGAIN, ENOMEM, a bad cwd: a failed start like any other, so it backs off and is retried.
      worker.log.error({ event: 'worker.spawn-failed', err: error }, `${label(worker)} could not be started: ${describe(error)}`);
      this.enqueue({ type: 'worker-exit', key, code: null, signal: null, stderr: [], spawnError: describe(error) });
      return;
    }
    this.handles.set(key, handle);
    worker.pid = handle.pid;
    worker.log = this.logger.child({ app: worker.app, worker: worker.slot, pid: handle.pid, gen: worker.generation });
    worker.log.info({ event: 'worker.state', from: null, to: 'starting' }, `${label(worker)} starting`);
    if (purpose === 'reload') {
      worker.log.info({ event: 'reload.step', step: 'fork' }, `${worker.app}: reload: new worker ${worker.slot} (pid ${handle.pid}) starting`);
    }
  }

  // One timer, for the earliest deadline of the table; re-armed only when that moment changes.
  private arm(now: number): void {
    const at = nextDeadline(this.model, now);
    if (this.armed?.at === at) return;
    this.armed?.cancel();
    this.armed = null;
    if (!Number.isFinite(at)) return;
    const cancel = this.clock.setTimer(at - now, () => {
      this.armed = null;
      this.enqueue({ type: 'tick' });
    });
    this.armed = { at, cancel };
  }

  /** Log an exception and keep supervising; the core failing several events in a row means it is broken. */
  private contain(error: unknown, where: string, counts = true): void {
    this.logger.error({ event: 'supervisor.error', where, err: error }, `nsup error while ${where} (supervising goes on): ${describe(error)}`);
    if (counts && ++this.errorsInRow >= MAX_ERRORS_IN_ROW) this.fail(error, `${this.errorsInRow} errors in a row`);
  }

  // The core cannot be trusted to stop itself: drain every process directly, SIGKILL after the
  // longest kill timeout, exit 1 once every worker and job process is gone.
  private abort(): void {
    if (this.aborting || this.finished) return;
    this.aborting = true;
    this.armed?.cancel();
    let longest = 0;
    for (const app of this.model.apps.values()) {
      for (const worker of app.workers) {
        longest = Math.max(longest, worker.config.killTimeoutMs);
        this.askToDrain(worker.key, worker.config.killTimeoutMs, 'stop');
      }
    }
    // Job runs end too: SIGTERM now, SIGKILL with the workers (after the longest app killTimeout when some run).
    if (this.jobs.size > 0) for (const app of this.model.apps.values()) longest = Math.max(longest, app.config.killTimeoutMs);
    this.jobs.killAll('SIGTERM');
    this.clock.setTimer(longest, () => {
      for (const handle of this.handles.values()) handle.kill('SIGKILL');
      this.jobs.killAll('SIGKILL');
    });
    if (this.handles.size === 0 && this.jobs.size === 0) this.exit(1);
  }

  private exit(code: number): void {
    this.finished = true;
    clearInterval(this.keepAlive);
    this.armed?.cancel();
    this.finish(code);
  }

  private deliverNow(appName: string, to: number | 'all', topic: string, data: unknown): { delivered: number[] } | Error {
    const targets = this.relayTargets(appName);
    const chosen = to === 'all' ? targets : targets.filter((t) => t.slot === to).slice(0, 1);
    if (chosen.length === 0) {
      return new ControlError(`app '${appName}' has no running worker ${to}${targets.length ? ` (running: ${[...new Set(targets.map((t) => t.slot))].join(', ')})` : ''}`);
    }
    const message: DeliverMessage = { nsup: NSUP_IPC, type: 'deliver', topic, data, from: FROM_OUTSIDE, fromApp: 'nsup' };
    return { delivered: chosen.filter((target) => target.send(message)).map((target) => target.pid ?? -1) };
  }

  /** Every live worker that is not being stopped, per slot the one that is up (then the newest) first. */
  private relayTargets(appName: string): RelayTarget[] {
    const app = this.model.apps.get(appName);
    if (!app) return [];
    // During a reload, messages to an id reach a worker that can answer them, and broadcasts reach both generations.
    const up = (w: WorkerModel) => (isUp(w) ? 1 : 0);
    return app.workers
      .filter((w) => w.stopReason === null && this.handles.has(w.key))
      .sort((a, b) => a.slot - b.slot || up(b) - up(a) || b.generation - a.generation)
      .map((worker) => this.relayTarget(worker));
  }

  private relayTarget(worker: WorkerModel): RelayTarget {
    return { key: worker.key, app: worker.app, slot: worker.slot, pid: worker.pid, send: (message) => this.sendTo(worker.key, message) };
  }
}

// The path with every symlink resolved; as given when it cannot be (removed since the config was read).
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What the worker is told about why it drains (its WebSockets get 1001 on a stop, 1012 otherwise). */
function drainReason(reason: StopReason | null): DrainReason {
  switch (reason) {
    case 'scale-down':
      return 'scale';
    case 'replaced':
      return 'replace';
    case 'reload':
    case 'rollback':
    case 'restart':
      return 'reload';
    default:
      return 'stop';
  }
}
