// The primary: owns the worker table and the event queue, and is the only place that forks,
// signals or times workers. Decisions come from the pure modules next to it.
import type { Worker } from 'node:cluster';
import type { ResolvedApp, ResolvedConfig } from '../config/define.ts';
import type { Logger, Output } from '../log/logger.ts';
import { forwardWorkerOutput, type WorkerOutput } from '../log/worker-output.ts';
import { NSUP_IPC, isReadyMessage } from '../ipc/protocol.ts';
import { spawnWorker } from '../worker/spawn.ts';
import { deriveAppState, type AppState } from './app-state.ts';
import { decideExit, formatDelay, type StopReason } from './backoff.ts';
import { EventQueue, type SupervisorEvent } from './events.ts';
import { explainExit } from './explain-exit.ts';
import { ALIVE, canTransition, isUp, type WorkerState } from './worker-state.ts';

/** One worker process of an app slot (or a slot waiting in backoff to get one). */
export interface WorkerRecord {
  /** Unique for the supervisor's lifetime; events refer to records by key. */
  readonly key: number;
  readonly app: AppRuntime;
  /** Stable slot 0..n-1 (NSUP_WORKER_ID), kept across restarts. */
  readonly slot: number;
  readonly generation: number;
  state: WorkerState;
  worker: Worker | null;
  pid: number | null;
  forkedAt: number;
  /** Set before nsup asks a worker to stop, so that exit is never taken for a crash. */
  stopReason: StopReason | null;
  /** The one timer the record owns (backoff or kill timeout); cleared on every transition. */
  timer: NodeJS.Timeout | null;
  output: WorkerOutput | null;
  log: Logger;
}

/** Per-slot history that outlives each process. */
export interface SlotStats {
  restarts: number;
  /** Consecutive failed starts; reset by a worker that stays up for restart.minUptime. */
  failures: number;
  /** restart.maxRestarts was hit: the slot is not restarted until a reload. */
  halted: boolean;
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

/** One app under supervision. */
export interface AppRuntime {
  config: ResolvedApp;
  generation: number;
  records: WorkerRecord[];
  slots: SlotStats[];
  state: AppState;
  lastFailure: Failure | null;
}

/** How the supervisor talks to the outside world. */
export interface SupervisorOptions {
  config: ResolvedConfig;
  logger: Logger;
  output: Output;
}

/** Supervises every app of a config until stop(); `done` resolves with the exit code. */
export class Supervisor {
  readonly apps = new Map<string, AppRuntime>();
  readonly done: Promise<number>;
  private readonly logger: Logger;
  private readonly output: Output;
  private readonly queue = new EventQueue<SupervisorEvent>((event) => this.handlers[event.type](event as never));
  private readonly byKey = new Map<number, WorkerRecord>();
  private nextKey = 1;
  private stopping = false;
  private finish: (code: number) => void = () => {};
  // The primary lives until it is stopped, even with no worker left (errored apps, all waiting).
  private readonly keepAlive = setInterval(() => {}, 1 << 30);

  constructor(options: SupervisorOptions) {
    this.logger = options.logger;
    this.output = options.output;
    this.done = new Promise((resolve) => (this.finish = resolve));
    for (const app of options.config.apps) {
      this.apps.set(app.name, {
        config: app,
        generation: 1,
        records: [],
        slots: Array.from({ length: app.instances }, () => ({ restarts: 0, failures: 0, halted: false })),
        state: 'starting',
        lastFailure: null,
      });
    }
  }

  /** Fork every app's workers. */
  start(): void {
    for (const app of this.apps.values()) {
      this.logger.info(
        { event: 'app.instances', app: app.config.name, instances: app.config.instances, source: app.config.instancesSource },
        `${app.config.name}: ${app.config.instances} worker${app.config.instances === 1 ? '' : 's'} (${app.config.instancesSource})`,
      );
      for (let slot = 0; slot < app.config.instances; slot++) this.fork(app, slot);
    }
    this.refreshAppStates();
  }

  /** Put an event on the queue (signal handlers and tests use this). */
  enqueue(event: SupervisorEvent): void {
    this.queue.push(event);
  }

  // One handler per event type; a missing one is a type error.
  private readonly handlers: { [T in SupervisorEvent['type']]: (event: Extract<SupervisorEvent, { type: T }>) => void } = {
    'worker-online': ({ key }) => this.move(this.byKey.get(key), 'online'),
    'worker-listening': ({ key, address }) => {
      const record = this.byKey.get(key);
      if (!record || record.state === 'stopping') return;
      record.log.info({ event: 'worker.listening', address }, `${label(record)} listening on ${address}`);
      if (record.state === 'starting' || record.state === 'online') this.move(record, 'listening');
    },
    'worker-ready': ({ key }) => {
      const record = this.byKey.get(key);
      if (record && record.app.config.waitReady && record.state !== 'ready') this.move(record, 'ready');
    },
    'worker-exit': (event) => this.onExit(event),
    'restart-due': ({ key }) => {
      const record = this.byKey.get(key);
      if (!record || record.state !== 'waiting') return;
      this.move(record, 'exited');
      this.remove(record);
      this.fork(record.app, record.slot);
    },
    'kill-due': ({ key }) => {
      const record = this.byKey.get(key);
      if (!record?.worker || !ALIVE.has(record.state)) return;
      record.log.warn(
        { event: 'worker.kill', killTimeoutMs: record.app.config.killTimeoutMs },
        `${label(record)} did not finish draining within ${formatDelay(record.app.config.killTimeoutMs)}: SIGKILL`,
      );
      record.worker.process.kill('SIGKILL');
    },
    stop: ({ source }) => this.onStop(source),
  };

  private fork(app: AppRuntime, slot: number): void {
    const worker = spawnWorker({ app: app.config, slot, generation: app.generation });
    const record: WorkerRecord = {
      key: this.nextKey++,
      app,
      slot,
      generation: app.generation,
      state: 'starting',
      worker,
      pid: worker.process.pid ?? null,
      forkedAt: Date.now(),
      stopReason: null,
      timer: null,
      output: null,
      log: this.logger.child({ app: app.config.name, worker: slot, pid: worker.process.pid, gen: app.generation }),
    };
    record.output = forwardWorkerOutput({
      stdout: worker.process.stdout,
      stderr: worker.process.stderr,
      prefix: `[${app.config.name}:${slot}]`,
      jsonLogs: app.config.jsonLogs,
      output: this.output,
    });
    this.add(record);
    record.log.info({ event: 'worker.state', from: null, to: 'starting' }, `${label(record)} starting`);
    const key = record.key;
    worker.on('online', () => this.enqueue({ type: 'worker-online', key }));
    worker.on('listening', (address) => this.enqueue({ type: 'worker-listening', key, address: formatAddress(address) }));
    worker.on('message', (message) => {
      if (isReadyMessage(message)) this.enqueue({ type: 'worker-ready', key });
    });
    worker.on('error', (error) => record.log.warn({ event: 'worker.state', err: error }, `${label(record)} IPC error: ${error.message}`));
    worker.once('exit', (code, signal) => {
      // Report the exit once its output is read to the end (the crash report needs the last
      // stderr lines), but never wait long on a grandchild that holds the pipes open.
      const flushed = record.output?.closed ?? Promise.resolve();
      const bound = new Promise((resolve) => setTimeout(resolve, 200).unref());
      void Promise.race([flushed, bound]).then(() => this.enqueue({ type: 'worker-exit', key, code, signal }));
    });
  }

  private onExit({ key, code, signal }: Extract<SupervisorEvent, { type: 'worker-exit' }>): void {
    const record = this.byKey.get(key);
    if (!record) return;
    const { app, slot } = record;
    const stats = app.slots[slot];
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
    if (!expected) {
      app.lastFailure = { at: new Date().toISOString(), worker: slot, pid: record.pid, code, signal, reason, stderr: reportLines(stderr) };
    }
    if (stats && !this.stopping) {
      const decision = decideExit(
        { stopReason: record.stopReason, uptimeMs, failures: stats.failures, shuttingDown: this.stopping },
        app.config.restart,
      );
      if (decision.kind === 'restart') {
        stats.failures = decision.failures;
        stats.restarts++;
        if (decision.delayMs === 0) {
          record.log.info({ event: 'worker.restart', delayMs: 0, attempt: decision.failures }, `restarting ${label(record)} now`);
          this.fork(app, slot);
        } else {
          this.wait(app, slot, decision.delayMs, decision.failures);
        }
      } else if (decision.kind === 'halt') {
        stats.failures = decision.failures;
        stats.halted = true;
        record.log.error(
          { event: 'worker.halted', failures: decision.failures, lastFailure: app.lastFailure },
          `${label(record)} failed to start ${decision.failures} times in a row (restart.maxRestarts = ${app.config.restart.maxRestarts}): ` +
            `not restarting it. Last failure: ${reason}. Fix the cause, then reload or restart the app.`,
        );
      }
    }
    this.refreshAppStates();
    this.checkStopped();
  }

  /** Park a slot in 'waiting' for its backoff, then fork it again. */
  private wait(app: AppRuntime, slot: number, delayMs: number, attempt: number): void {
    const record: WorkerRecord = {
      key: this.nextKey++,
      app,
      slot,
      generation: app.generation,
      state: 'waiting',
      worker: null,
      pid: null,
      forkedAt: 0,
      stopReason: null,
      timer: null,
      output: null,
      log: this.logger.child({ app: app.config.name, worker: slot, gen: app.generation }),
    };
    this.add(record);
    const failure = app.lastFailure;
    record.log.warn(
      { event: 'worker.restart', delayMs, attempt, lastFailure: failure },
      `restarting worker ${slot} in ${formatDelay(delayMs)} (attempt ${attempt})${failure ? `; last exit: ${failure.reason}` : ''}`,
    );
    const key = record.key;
    record.timer = setTimeout(() => this.enqueue({ type: 'restart-due', key }), delayMs);
  }

  private onStop(source: string): void {
    if (this.stopping) {
      this.logger.warn({ event: 'supervisor.stopping', source, force: true }, `${source} again: stopping at once (SIGKILL to every worker)`);
      for (const record of this.byKey.values()) if (record.worker && ALIVE.has(record.state)) record.worker.process.kill('SIGKILL');
      return;
    }
    this.stopping = true;
    this.logger.info({ event: 'supervisor.stopping', source }, `${source}: draining every worker, then stopping`);
    for (const record of [...this.byKey.values()]) {
      if (record.state === 'waiting') {
        this.move(record, 'exited');
        this.remove(record);
      } else if (ALIVE.has(record.state) && record.state !== 'stopping') {
        this.requestStop(record, 'shutdown');
      }
    }
    this.refreshAppStates();
    this.checkStopped();
  }

  /** Ask a worker to drain: intent first, then the message, then the kill timer. */
  private requestStop(record: WorkerRecord, reason: StopReason): void {
    record.stopReason = reason;
    this.move(record, 'stopping');
    const timeoutMs = record.app.config.killTimeoutMs;
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

  /** The one transition function: checks the table, clears the record's timer, logs once. */
  private move(record: WorkerRecord | undefined, to: WorkerState): void {
    if (!record || record.state === to) return;
    const from = record.state;
    if (!canTransition(from, to)) {
      record.log.warn({ event: 'worker.state', from, to, illegal: true }, `${label(record)}: ignored illegal transition ${from} → ${to}`);
      return;
    }
    if (record.timer) clearTimeout(record.timer);
    record.timer = null;
    record.state = to;
    if (from !== 'waiting' || to !== 'exited') {
      record.log.info({ event: 'worker.state', from, to }, `${label(record)} ${from} → ${to}`);
    }
    this.refreshAppStates();
  }

  private add(record: WorkerRecord): void {
    this.byKey.set(record.key, record);
    record.app.records.push(record);
  }

  private remove(record: WorkerRecord): void {
    this.byKey.delete(record.key);
    record.app.records = record.app.records.filter((other) => other !== record);
  }

  /** Recompute every app's state; log the ones that changed. */
  private refreshAppStates(): void {
    for (const app of this.apps.values()) {
      const slots = app.slots.map((stats, slot) => ({
        ...stats,
        up: app.records.some((r) => r.slot === slot && r.stopReason === null && isUp(r.state, app.config.waitReady)),
      }));
      const state = deriveAppState(slots, { stopping: this.stopping, reloading: false });
      if (state === app.state) continue;
      const failure = state === 'crash-loop' || state === 'errored' ? app.lastFailure : undefined;
      this.logger[failure ? 'warn' : 'info'](
        { event: 'app.state', app: app.config.name, from: app.state, to: state, lastFailure: failure },
        `${app.config.name}: ${app.state} → ${state}${failure ? ` (last exit: ${failure.reason})` : ''}`,
      );
      app.state = state;
    }
  }
}

/** The stderr lines worth keeping in a failure report: Node's internal stack frames are noise. */
function reportLines(stderr: readonly string[]): string[] {
  return stderr.filter((line) => !/^\s+at (?:async )?(?:.*\()?node:internal\//.test(line)).slice(-20);
}

function label(record: WorkerRecord): string {
  return `worker ${record.slot} of ${record.app.config.name}${record.pid ? ` (pid ${record.pid})` : ''}`;
}

function formatAddress(address: { address?: string | null; port?: number; addressType?: number | string }): string {
  const host = address.address && address.address !== '::' && address.address !== '0.0.0.0' ? address.address : '';
  return `${host}:${address.port ?? '?'}`;
}
