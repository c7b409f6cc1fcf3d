// The primary: owns the worker table and the event queue, and is the only place that forks,
// signals or times workers. Decisions come from the pure modules next to it.
import type { ResolvedApp, ResolvedConfig } from '../config/define.ts';
import { ControlError } from '../errors.ts';
import type { Logger, Output } from '../log/logger.ts';
import { forwardWorkerOutput } from '../log/worker-output.ts';
import { FROM_OUTSIDE, NSUP_IPC, isHeartbeat, type DeliverMessage, isInternal, isReadyMessage } from '../ipc/protocol.ts';
import { Relay, type RelayTarget } from '../ipc/relay.ts';
import { spawnWorker } from '../worker/spawn.ts';
import { deriveAppState } from './app-state.ts';
import { decideExit, formatDelay, type StopReason } from './backoff.ts';
import { onAppOp } from './app-ops.ts';
import type { Core, EventOf } from './core.ts';
import { EventQueue, type SupervisorEvent } from './events.ts';
import { advanceReload, endReload, onReloadStart } from './reloading.ts';
import { checkHeartbeats, checkMemory, replaceWorker, replacementTookOver } from './replacing.ts';
import { explainExit } from './explain-exit.ts';
import { freshSlots, label, reportLines, type AppOpResult, type AppRuntime, type ReloadResult, type WorkerRecord } from './records.ts';
import { ALIVE, canTransition, isUp, type WorkerState } from './worker-state.ts';

export type { AppRuntime, WorkerRecord } from './records.ts';

/** How the supervisor talks to the outside world. */
export interface SupervisorOptions {
  config: ResolvedConfig;
  logger: Logger;
  output: Output;
}


/** Supervises every app of a config until stopped; `done` resolves with the exit code. */
export class Supervisor implements Core {
  readonly apps = new Map<string, AppRuntime>();
  readonly done: Promise<number>;
  readonly logger: Logger;
  private readonly output: Output;
  private readonly queue = new EventQueue<SupervisorEvent>((event) => {
    this.handlers[event.type](event as never);
    for (const watcher of this.watchers) if (watcher()) this.watchers.delete(watcher);
  });
  private readonly byKey = new Map<number, WorkerRecord>();
  private nextKey = 1;
  private stopping = false;
  private finish: (code: number) => void = () => {};
  // The primary lives until it is stopped, even with no worker left (errored apps, all waiting).
  private readonly keepAlive = setInterval(() => {}, 1 << 30);
  private readonly relay: Relay;
  /** Checks run after every event; a check that returns true is done and removed. */
  private readonly watchers = new Set<() => boolean>();
  readonly startedAt = new Date();
  private readonly foreignListeners = new Set<(record: WorkerRecord, message: unknown) => void>();
  private readonly stateListeners = new Set<(app: AppRuntime) => void>();

  constructor(options: SupervisorOptions) {
    this.logger = options.logger;
    this.output = options.output;
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.relay = new Relay({ targets: (app) => this.relayTargets(app), apps: () => [...this.apps.keys()] }, this.logger);
    for (const config of options.config.apps) {
      const slots = freshSlots(config.instances);
      this.apps.set(config.name, { config, generation: 1, records: [], slots, state: 'starting', lastFailure: null, reload: null, lastReload: null, pending: null, scaledTo: null, counters: { restarts: 0, reloadsDone: 0, reloadsRolledBack: 0 } });
    }
  }

  /** Messages the IPC relay has delivered since start. */
  get messagesRelayed(): number {
    return this.relay.relayed;
  }

  /** Called with every app state change (systemd STATUS=, …). */
  onAppState(fn: (app: AppRuntime) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  /** Receive the apps' own IPC messages (not nsup's), e.g. prom-client's metric replies. */
  onForeignMessage(fn: (record: WorkerRecord, message: unknown) => void): () => void {
    this.foreignListeners.add(fn);
    return () => this.foreignListeners.delete(fn);
  }

  /** @internal */
  hasRecord(key: number): boolean {
    return this.byKey.has(key);
  }

  /** Replace a live worker through the rolling path: a new one first, then drain the old one. */
  replaceWorker(record: WorkerRecord, reason: string): boolean {
    return replaceWorker(this, record, reason);
  }

  /** Check every worker against its memory limit (RSS from the sampler); replace those above it. */
  checkMemory(rssOf: (pid: number) => number | null): void {
    checkMemory(this, rssOf);
  }

  /** Replace every up worker whose event loop has not beaten for its app's heartbeatTimeout. */
  checkHeartbeats(now = Date.now()): void {
    checkHeartbeats(this, now);
  }

  /** Whether a stop has begun. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /** Fork every app's workers. */
  start(): void {
    for (const app of this.apps.values()) {
      const { name, instances, instancesSource } = app.config;
      this.logger.info(
        { event: 'app.instances', app: name, instances, source: instancesSource },
        `${name}: ${instances} worker${instances === 1 ? '' : 's'} (${instancesSource})`,
      );
      for (let slot = 0; slot < instances; slot++) this.fork(app, app.config, slot, app.generation);
    }
    this.refreshAppStates();
  }

  /** Put an event on the queue (signal handlers, the reload controller and tests use this). */
  enqueue(event: SupervisorEvent): void {
    this.queue.push(event);
  }

  /** Stop, restart or scale an app; resolves once the operation has taken effect. */
  appOp(app: string, op: 'stop' | 'restart' | 'scale', to?: number): Promise<AppOpResult> {
    return new Promise((finish) => this.enqueue({ type: 'app-op', app, op, ...(to !== undefined ? { to } : {}), finish }));
  }

  /** Resolves true once every slot of these apps has a worker up, false after `timeoutMs`. */
  whenUp(apps: string[] | 'all', timeoutMs: number): Promise<boolean> {
    return this.until(() => {
      const names = apps === 'all' ? [...this.apps.keys()] : apps;
      return names.every((name) => {
        const app = this.apps.get(name);
        return app !== undefined && app.pending === null && app.slots.every((_, slot) => this.slotUp(app, slot));
      });
    }, timeoutMs);
  }

  /** Resolves true when `check` holds (checked now and after every event), false after `timeoutMs`. */
  until(check: () => boolean, timeoutMs: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.watchers.delete(watcher);
        resolve(false);
      }, Math.min(timeoutMs, 2 ** 31 - 1));
      timer.unref();
      const watcher = () => {
        if (!check()) return false;
        clearTimeout(timer);
        resolve(true);
        return true;
      };
      this.watchers.add(watcher);
    });
  }

  /** Roll `app` onto `config` (a fresh, validated copy of its config); resolves when done or rolled back. */
  reloadApp(app: string, config: ResolvedApp, trigger: string): Promise<ReloadResult> {
    return new Promise((finish) => this.enqueue({ type: 'reload-start', app, config, trigger, finish }));
  }

  // One handler per event type; a missing one is a type error.
  private readonly handlers: { [T in SupervisorEvent['type']]: (event: EventOf<T>) => void } = {
    'worker-online': ({ key }) => this.move(this.byKey.get(key), 'online'),
    'worker-listening': ({ key, address }) => {
      const record = this.byKey.get(key);
      if (!record || record.state === 'stopping') return;
      record.log.info({ event: 'worker.listening', address }, `${label(record)} listening on ${address}`);
      if (record.state === 'starting' || record.state === 'online') this.move(record, 'listening');
    },
    'worker-ready': ({ key }) => {
      const record = this.byKey.get(key);
      if (record?.config.waitReady && record.state !== 'ready' && record.state !== 'stopping') this.move(record, 'ready');
    },
    'worker-exit': (event) => this.onExit(event),
    'restart-due': ({ key }) => {
      const record = this.byKey.get(key);
      if (!record || record.state !== 'waiting') return;
      this.move(record, 'exited');
      this.remove(record);
      this.fork(record.app, record.config, record.slot, record.generation);
    },
    'kill-due': ({ key }) => {
      const record = this.byKey.get(key);
      if (!record?.worker || !ALIVE.has(record.state)) return;
      record.log.warn(
        { event: 'worker.kill', killTimeoutMs: record.config.killTimeoutMs },
        `${label(record)} did not finish draining within ${formatDelay(record.config.killTimeoutMs)}: SIGKILL`,
      );
      record.worker.process.kill('SIGKILL');
    },
    'listen-timeout': ({ key }) => {
      const record = this.byKey.get(key);
      if (record?.replaces && !this.isUpRecord(record) && record.stopReason === null) {
        record.log.error({ event: 'worker.replace-failed', replaces: record.replaces }, `${label(record)}: the replacement did not come up within ${formatDelay(record.config.listenTimeoutMs)}; the old worker keeps serving`);
        return this.requestStop(record, 'rollback');
      }
      const run = record?.app.reload;
      if (!record || !run || record.generation !== run.generation || this.isUpRecord(record)) return;
      run.failed.set(record.slot, `did not ${record.config.waitReady ? 'call ready()' : 'listen'} within ${formatDelay(record.config.listenTimeoutMs)}`);
      advanceReload(this, record.app);
    },
    'reload-start': (event) => onReloadStart(this, event),
    'app-op': (event) => onAppOp(this, event),
    stop: ({ source }) => this.onStop(source),
  };

  /** @internal */
  fork(app: AppRuntime, config: ResolvedApp, slot: number, generation: number): WorkerRecord {
    const worker = spawnWorker({ app: config, slot, generation });
    const pid = worker.process.pid ?? null;
    const record = this.newRecord(app, config, slot, generation, 'starting');
    record.worker = worker;
    record.pid = pid;
    record.forkedAt = Date.now();
    record.log = this.logger.child({ app: config.name, worker: slot, pid, gen: generation });
    record.output = forwardWorkerOutput({
      stdout: worker.process.stdout,
      stderr: worker.process.stderr,
      app: config.name,
      prefix: `[${config.name}:${slot}]`,
      jsonLogs: config.jsonLogs,
      output: this.output,
    });
    record.log.info({ event: 'worker.state', from: null, to: 'starting' }, `${label(record)} starting`);
    const key = record.key;
    worker.on('online', () => this.enqueue({ type: 'worker-online', key }));
    worker.on('listening', (address) => this.enqueue({ type: 'worker-listening', key, address: formatAddress(address) }));
    worker.on('message', (message) => {
      // A heartbeat only refreshes a timestamp: checkLimits() reads it, nothing else does.
      if (isHeartbeat(message)) record.lastHeartbeat = Date.now();
      else if (isReadyMessage(message)) this.enqueue({ type: 'worker-ready', key });
      else if (isInternal(message)) this.relay.onMessage(this.relayTarget(record), message);
      // Anything else is the app's own IPC (e.g. prom-client's aggregator): passed on untouched.
      else for (const listener of this.foreignListeners) listener(record, message);
    });
    worker.on('error', (error) => record.log.warn({ event: 'worker.state', err: error }, `${label(record)} IPC error: ${error.message}`));
    worker.once('exit', (code, signal) => {
      // Report the exit once its output is read to the end (the crash report needs the last
      // stderr lines), but never wait long on a grandchild that holds the pipes open.
      const flushed = record.output?.closed ?? Promise.resolve();
      const bound = new Promise((resolve) => setTimeout(resolve, 200).unref());
      void Promise.race([flushed, bound]).then(() => this.enqueue({ type: 'worker-exit', key, code, signal }));
    });
    return record;
  }

  private onExit({ key, code, signal }: EventOf<'worker-exit'>): void {
    const record = this.byKey.get(key);
    if (!record) return;
    const { app, slot } = record;
    const uptimeMs = Date.now() - record.forkedAt;
    const stderr = record.output?.stderrTail ?? [];
    const expected = record.stopReason !== null;
    const reason = expected ? `stopped (${record.stopReason})` : explainExit({ code, signal, stderr });
    record.log[expected ? 'info' : 'warn'](
      { event: 'worker.exit', code, signal, uptimeMs, expected, reason },
      `${label(record)} exited: ${reason}`,
    );
    this.move(record, 'exited');
    this.remove(record);
    this.relay.onWorkerExit(record.key);
    if (!expected) {
      app.lastFailure = { at: new Date().toISOString(), worker: slot, pid: record.pid, code, signal, reason, stderr: reportLines(stderr) };
    }
    const run = app.reload;
    if (run && record.generation === run.generation) {
      // A new worker of a reload: its failure fails the reload, it is never restarted.
      if (!expected) run.failed.set(slot, `exited before it was up: ${reason}`);
      advanceReload(this, app);
    } else if (record.replaces && !expected && !replacementTookOver(this, record)) {
      record.log.error({ event: 'worker.replace-failed', replaces: record.replaces, reason }, `${label(record)}: the replacement exited before it was up (${reason}); the old worker keeps serving`);
    } else {
      if (!expected) this.restartAfterCrash(record, uptimeMs, reason);
      if (run) advanceReload(this, app);
    }
    if (app.pending && app.records.length === 0) app.pending.done();
    this.refreshAppStates();
    this.checkStopped();
  }

  private restartAfterCrash(record: WorkerRecord, uptimeMs: number, reason: string): void {
    const { app, slot } = record;
    const stats = app.slots[slot];
    if (!stats || this.stopping || app.pending || record.generation !== app.generation) return;
    // A replacement already runs for this slot (memory limit, hung worker): it takes over.
    if (app.records.some((r) => r.slot === slot && r.stopReason === null && ALIVE.has(r.state))) return;
    const decision = decideExit({ stopReason: record.stopReason, uptimeMs, failures: stats.failures, shuttingDown: this.stopping }, app.config.restart);
    if (decision.kind === 'restart') {
      stats.failures = decision.failures;
      stats.restarts++;
      app.counters.restarts++;
      if (decision.delayMs === 0) {
        record.log.info({ event: 'worker.restart', delayMs: 0, attempt: decision.failures }, `restarting ${label(record)} now`);
        this.fork(app, app.config, slot, app.generation);
      } else {
        this.wait(app, slot, decision.delayMs, decision.failures);
      }
    } else if (decision.kind === 'halt') {
      stats.failures = decision.failures;
      stats.halted = true;
      record.log.error(
        { event: 'worker.halted', failures: decision.failures, lastFailure: app.lastFailure },
        `${label(record)} failed to start ${decision.failures} times in a row (restart.maxRestarts = ${app.config.restart.maxRestarts}): ` +
          `not restarting it. Last failure: ${reason}. Fix the cause, then reload the app.`,
      );
    }
  }

  /** Park a slot in 'waiting' for its backoff, then fork it again. */
  private wait(app: AppRuntime, slot: number, delayMs: number, attempt: number): void {
    const record = this.newRecord(app, app.config, slot, app.generation, 'waiting');
    const failure = app.lastFailure;
    record.log.warn(
      { event: 'worker.restart', delayMs, attempt, lastFailure: failure },
      `restarting worker ${slot} in ${formatDelay(delayMs)} (attempt ${attempt})${failure ? `; last exit: ${failure.reason}` : ''}`,
    );
    const key = record.key;
    record.timer = setTimeout(() => this.enqueue({ type: 'restart-due', key }), delayMs);
  }

  /** Cancel waiting records and ask live ones to drain. */
  /** @internal */
  stopRecords(records: WorkerRecord[], reason: StopReason): void {
    for (const record of [...records]) {
      if (record.state === 'waiting') {
        this.move(record, 'exited');
        this.remove(record);
      } else if (ALIVE.has(record.state) && record.state !== 'stopping') {
        this.requestStop(record, reason);
      }
    }
  }

  /** @internal */
  onStop(source: string): void {
    if (this.stopping) {
      this.logger.warn({ event: 'supervisor.stopping', source, force: true }, `${source} again: stopping at once (SIGKILL to every worker)`);
      for (const record of this.byKey.values()) if (record.worker && ALIVE.has(record.state)) record.worker.process.kill('SIGKILL');
      return;
    }
    this.stopping = true;
    this.logger.info({ event: 'supervisor.stopping', source }, `${source}: draining every worker, then stopping`);
    for (const app of this.apps.values()) if (app.reload) endReload(this, app, { ok: false, reason: 'the supervisor is stopping' });
    this.stopRecords([...this.byKey.values()], 'shutdown');
    this.refreshAppStates();
    this.checkStopped();
  }

  /** Ask a worker to drain: intent first, then the message, then the kill timer. */
  /** @internal */
  requestStop(record: WorkerRecord, reason: StopReason): void {
    record.stopReason = reason;
    this.move(record, 'stopping');
    const timeoutMs = record.config.killTimeoutMs;
    if (record.worker?.isConnected()) record.worker.send({ nsup: NSUP_IPC, type: 'shutdown', timeoutMs }, () => {});
    else record.worker?.process.kill('SIGTERM');
    const key = record.key;
    record.timer = setTimeout(() => this.enqueue({ type: 'kill-due', key }), timeoutMs);
  }

  private checkStopped(): void {
    if (!this.stopping || this.byKey.size > 0) return;
    this.logger.info({ event: 'supervisor.stopped' }, 'every worker has exited; bye');
    clearInterval(this.keepAlive);
    this.finish(0);
  }

  /** The one transition function: checks the table, clears the record's timers, logs once. */
  /** @internal */
  move(record: WorkerRecord | undefined, to: WorkerState): void {
    if (!record || record.state === to) return;
    const from = record.state;
    if (!canTransition(from, to)) {
      record.log.warn({ event: 'worker.state', from, to, illegal: true }, `${label(record)}: ignored illegal transition ${from} → ${to}`);
      return;
    }
    if (record.timer) clearTimeout(record.timer);
    record.timer = null;
    record.state = to;
    if (record.listenTimer && (this.isUpRecord(record) || !ALIVE.has(to))) {
      clearTimeout(record.listenTimer);
      record.listenTimer = null;
    }
    if (from !== 'waiting' || to !== 'exited') record.log.info({ event: 'worker.state', from, to }, `${label(record)} ${from} → ${to}`);
    if (record.app.reload && this.isUpRecord(record)) advanceReload(this, record.app);
    if (record.replaces && this.isUpRecord(record)) {
      const old = this.byKey.get(record.replaces.key);
      if (old && old.stopReason === null && ALIVE.has(old.state)) {
        record.log.info({ event: 'worker.replaced', old: old.pid, reason: record.replaces.reason }, `${label(record)} is up; draining ${label(old)} (${record.replaces.reason})`);
        this.requestStop(old, 'replaced');
      }
    }
    this.refreshAppStates();
  }

  /** Deliver a message from outside (nsup send) to the `on(topic)` handlers of one worker or all; `from` is -1. */
  deliver(appName: string, to: number | 'all', topic: string, data: unknown): { delivered: number[] } {
    const targets = this.relayTargets(appName);
    const chosen = to === 'all' ? targets : targets.filter((t) => t.slot === to).slice(0, 1);
    if (chosen.length === 0) {
      throw new ControlError(`app '${appName}' has no running worker ${to}${targets.length ? ` (running: ${[...new Set(targets.map((t) => t.slot))].join(', ')})` : ''}`);
    }
    const message: DeliverMessage = { nsup: NSUP_IPC, type: 'deliver', topic, data, from: FROM_OUTSIDE, fromApp: 'nsup' };
    return { delivered: chosen.filter((target) => target.send(message)).map((target) => target.pid ?? -1) };
  }

  /** Per slot, the newest live worker that is not being stopped: where messages to that id go. */
  private relayTargets(appName: string): RelayTarget[] {
    const app = this.apps.get(appName);
    if (!app) return [];
    // Every live worker that is not being stopped, per slot the one that is up (then the newest)
    // first: during a reload, messages to an id reach a worker that can answer them, and
    // broadcasts reach both generations.
    const up = (r: WorkerRecord) => (this.isUpRecord(r) ? 1 : 0);
    return app.records
      .filter((r) => r.worker && r.stopReason === null && ALIVE.has(r.state))
      .sort((a, b) => a.slot - b.slot || up(b) - up(a) || b.generation - a.generation)
      .map((record) => this.relayTarget(record));
  }

  private relayTarget(record: WorkerRecord): RelayTarget {
    return {
      key: record.key,
      app: record.app.config.name,
      slot: record.slot,
      pid: record.pid,
      // worker.send() also returns false when its backlog is full (and still delivers), so false
      // here means only "channel closed"; send errors surface on the worker's 'error' event.
      send: (message) => {
        if (!record.worker?.isConnected()) return false;
        record.worker.send(message as never);
        return true;
      },
    };
  }

  private slotUp(app: AppRuntime, slot: number): boolean {
    return app.records.some((r) => r.slot === slot && r.stopReason === null && this.isUpRecord(r));
  }

  /** @internal */
  isUpRecord(record: WorkerRecord): boolean {
    return isUp(record.state, record.config.waitReady);
  }

  private newRecord(app: AppRuntime, config: ResolvedApp, slot: number, generation: number, state: WorkerState): WorkerRecord {
    const record: WorkerRecord = {
      key: this.nextKey++,
      app,
      config,
      slot,
      generation,
      state,
      worker: null,
      pid: null,
      forkedAt: 0,
      stopReason: null,
      timer: null,
      listenTimer: null,
      output: null,
      log: this.logger.child({ app: config.name, worker: slot, gen: generation }),
      replaces: null,
      lastHeartbeat: null,
    };
    this.byKey.set(record.key, record);
    app.records.push(record);
    return record;
  }

  /** @internal */
  remove(record: WorkerRecord): void {
    this.byKey.delete(record.key);
    record.app.records = record.app.records.filter((other) => other !== record);
  }

  /** Recompute every app's state; log the ones that changed. */
  /** @internal */
  refreshAppStates(): void {
    for (const app of this.apps.values()) {
      const slots = app.slots.map((stats, slot) => ({ ...stats, up: this.slotUp(app, slot) }));
      const state = deriveAppState(slots, { stopping: this.stopping || app.pending !== null, reloading: app.reload !== null });
      if (state === app.state) continue;
      const failure = state === 'crash-loop' || state === 'errored' ? app.lastFailure : undefined;
      this.logger[failure ? 'warn' : 'info'](
        { event: 'app.state', app: app.config.name, from: app.state, to: state, lastFailure: failure },
        `${app.config.name}: ${app.state} → ${state}${failure ? ` (last exit: ${failure.reason})` : ''}`,
      );
      app.state = state;
      for (const listener of this.stateListeners) listener(app);
    }
  }
}

function formatAddress(address: { address?: string | null; port?: number; addressType?: number | string }): string {
  const host = address.address && address.address !== '::' && address.address !== '0.0.0.0' ? address.address : '';
  return `${host}:${address.port ?? '?'}`;
}
