// Recording facts: each event writes what happened into the table (a worker listened, exited, sent
// a heartbeat; a reload or a stop was asked for) and decides nothing. reconcile.ts decides.
import type { Logger } from '../log/logger.ts';
import { isConnectionsMessage, isHeartbeat, isReadyMessage, isRecycleMessage, isShutdownDone, type ConnectionsMessage } from '../ipc/protocol.ts';
import { observeJobExit } from '../jobs/reconcile-schedules.ts';
import type { SupervisorEvent } from './events.ts';
import { explainExit } from './explain-exit.ts';
import { displayState, label, type ConnectionCounts, type CoreModel, type LiveFigures, type WorkerModel } from './model.ts';
import { advances, type Lifecycle } from './worker-state.ts';

/** What observing needs besides the table: the time of the event and where to log. */
export interface ObserveContext {
  now: number;
  logger: Logger;
}

/** The events that carry facts or requests for the table (the rest is the Supervisor's own I/O). */
export type ObservedEvent = Extract<SupervisorEvent, { type: 'start' | 'worker-online' | 'worker-listening' | 'worker-message' | 'worker-exit' | 'usage' | 'reload-start' | 'app-op' | 'stop' | 'tick' | 'job-exit' | 'job-run' }>;

/** Record one event's facts in the table. */
export function observe(model: CoreModel, event: ObservedEvent, ctx: ObserveContext): void {
  switch (event.type) {
    case 'start':
      model.started = true;
      return;
    case 'tick':
      // Time passed: the next reconcile pass reads the clock. No fact to record.
      return;
    case 'worker-online':
      return advance(findWorker(model, event.key), 'online', ctx);
    case 'worker-listening': {
      const worker = findWorker(model, event.key);
      if (!worker) return;
      if (!worker.addresses.includes(event.address)) worker.addresses.push(event.address);
      if (worker.stopReason === null) {
        worker.log.info({ event: 'worker.listening', address: event.address }, `${label(worker)} listening on ${event.address}`);
      }
      return advance(worker, 'listening', ctx);
    }
    case 'worker-message': {
      const worker = findWorker(model, event.key);
      if (!worker) return;
      if (isHeartbeat(event.message)) worker.lastHeartbeat = ctx.now;
      else if (isConnectionsMessage(event.message)) {
        worker.connections = connectionCounts(event.message);
        worker.live = liveFigures(event.message, worker.live);
        if (worker.requestLimit !== null) noteRequests(worker, event.message.requests);
      }
      // maxRequests: the worker reached its limit; reconcile-replace.ts replaces it (the count is the fact, level-triggered).
      else if (isRecycleMessage(event.message)) {
        if (worker.requestLimit !== null) noteRequests(worker, event.message.requests);
      }
      else if (isShutdownDone(event.message)) worker.shutdownDone = true;
      // ready() counts only for apps that wait for it; elsewhere readyWhen decides (readiness.ts).
      else if (isReadyMessage(event.message) && worker.config.readyWhen === 'ready') advance(worker, 'ready', ctx);
      return;
    }
    case 'worker-exit':
      return observeExit(model, event, ctx);
    case 'usage':
      for (const app of model.apps.values()) {
        for (const worker of app.workers) {
          if (worker.pid !== null && event.rssByPid.has(worker.pid)) worker.rssBytes = event.rssByPid.get(worker.pid) ?? null;
        }
      }
      return;
    case 'reload-start': {
      const app = model.apps.get(event.app);
      if (!app) return event.finish({ app: event.app, ok: false, generation: 0, durationMs: 0, reason: `no app named '${event.app}'` });
      app.inbox.push({ kind: 'reload', config: event.config, trigger: event.trigger, finish: event.finish });
      return;
    }
    case 'app-op': {
      const app = model.apps.get(event.app);
      if (!app) return event.finish({ ok: false, app: event.app, message: `no app named '${event.app}' in this supervisor (apps: ${[...model.apps.keys()].join(', ')})` });
      app.inbox.push(event.op === 'scale' ? { kind: 'scale', to: event.to ?? null, delta: event.delta ?? 0, finish: event.finish } : { kind: event.op, finish: event.finish });
      return;
    }
    case 'stop':
      model.stopRequests.push({ source: event.source, exitCode: 0 });
      return;
    case 'job-exit': {
      const app = model.apps.get(event.app);
      if (app) observeJobExit(app.scheduled, event, ctx.now);
      return;
    }
    case 'job-run': {
      const app = model.apps.get(event.app);
      if (!app) return event.finish({ ok: false, unknownJob: true, reason: `no app named '${event.app}' in this supervisor (apps: ${[...model.apps.keys()].join(', ')})` });
      app.scheduled.inbox.push({ job: event.job, finish: event.finish });
      return;
    }
  }
}

// The count only goes up (a late connections message never lowers it); the message comes from the app's process.
function noteRequests(worker: WorkerModel, requests: unknown): void {
  if (typeof requests !== 'number' || !Number.isSafeInteger(requests) || requests < 0) return;
  worker.requests = Math.max(worker.requests ?? 0, requests);
}

/** The worker with this key, in whichever app. */
export function findWorker(model: CoreModel, key: number): WorkerModel | undefined {
  for (const app of model.apps.values()) {
    const worker = app.workers.find((w) => w.key === key);
    if (worker) return worker;
  }
  return undefined;
}

/** Move a worker's lifecycle forward (never back); note when it first counts as up. */
function advance(worker: WorkerModel | undefined, to: Lifecycle, ctx: ObserveContext): void {
  if (!worker || !advances(worker.lifecycle, to)) return;
  const from = worker.lifecycle;
  worker.lifecycle = to;
  // A worker told to stop stays `stopping` for everyone watching; its late events change nothing.
  if (worker.stopReason === null) worker.log.info({ event: 'worker.state', from, to }, `${label(worker)} ${from} → ${to}`);
}

/** A worker is gone: take it out of the table and leave the exit for reconcile to decide on. */
function observeExit(model: CoreModel, event: Extract<SupervisorEvent, { type: 'worker-exit' }>, ctx: ObserveContext): void {
  const worker = findWorker(model, event.key);
  if (!worker) return;
  const app = model.apps.get(worker.app)!;
  const expected = worker.stopReason !== null;
  const reason = expected
    ? `stopped (${worker.stopReason})`
    : event.spawnError !== undefined
      ? `could not be started: ${event.spawnError}`
      : explainExit({ code: event.code, signal: event.signal, stderr: event.stderr });
  const uptimeMs = ctx.now - worker.forkedAt;
  worker.log[expected ? 'info' : 'warn'](
    { event: 'worker.exit', code: event.code, signal: event.signal, uptimeMs, expected, reason },
    `${label(worker)} exited: ${reason}`,
  );
  worker.log.info({ event: 'worker.state', from: displayState(worker), to: 'exited' }, `${label(worker)} ${displayState(worker)} → exited`);
  app.workers = app.workers.filter((w) => w !== worker);
  app.exits.push({ worker, at: ctx.now, code: event.code, signal: event.signal, reason, stderr: event.stderr });
}

// Only the four counts, as non-negative integers: the message comes from the app's process.
function connectionCounts(message: ConnectionsMessage): ConnectionCounts {
  const count = (n: unknown) => (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0);
  return { inFlight: count(message.inFlight), keepAlive: count(message.keepAlive), websocket: count(message.websocket), stream: count(message.stream) };
}

// The live figures as finite non-negative numbers (elu at most 1); the request count never goes
// down. Null while the worker's runtime sends none (before issue 15).
function liveFigures(message: ConnectionsMessage, previous: LiveFigures | null): LiveFigures | null {
  const live = message.live as Partial<ConnectionsMessage['live']> | undefined;
  if (typeof live !== 'object' || live === null) return previous;
  const num = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : 0);
  const delay = (typeof live.eventLoopDelayMs === 'object' && live.eventLoopDelayMs !== null ? live.eventLoopDelayMs : {}) as Partial<LiveFigures['eventLoopDelayMs']>;
  const requests = typeof message.requests === 'number' && Number.isSafeInteger(message.requests) && message.requests >= 0 ? message.requests : 0;
  return {
    requests: Math.max(previous?.requests ?? 0, requests),
    reqPerSec: num(live.reqPerSec),
    elu: Math.min(1, num(live.elu)),
    eventLoopDelayMs: { p50: num(delay.p50), p99: num(delay.p99), max: num(delay.max) },
  };
}
