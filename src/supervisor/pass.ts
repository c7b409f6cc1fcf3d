// One reconcile pass: the time it runs at, the effects it decides, and the few primitives every
// decision uses (fork a worker, ask one to stop). The Supervisor carries the effects out.
import type { ResolvedApp } from '../config/define.ts';
import type { JobEffect } from '../jobs/model.ts';
import type { Logger } from '../log/logger.ts';
import type { StopReason } from './backoff.ts';
import { label, type AppModel, type WorkerModel } from './model.ts';

/** What a reconcile pass asks the Supervisor to do, in order. */
export type Effect =
  /** Start a process for this (new) worker of the table: for its slot, a reload, or a replacement. */
  | { kind: 'fork'; worker: WorkerModel; purpose: ForkPurpose }
  /** Ask a worker to drain (IPC shutdown message; SIGTERM when the channel is gone). */
  | { kind: 'shutdown'; worker: WorkerModel; timeoutMs: number }
  /** SIGKILL a worker (past its kill timeout, or a forced stop). */
  | { kind: 'kill'; worker: WorkerModel }
  /** An app's state changed (systemd STATUS=, listeners). */
  | { kind: 'app-state'; app: AppModel }
  /** A stop of the whole supervisor began (systemd STOPPING=1, /readyz). */
  | { kind: 'stopping'; source: string }
  /** Every worker is gone after a stop: the supervisor is done with this exit code. */
  | { kind: 'finished'; code: number }
  /** Scheduled work (src/jobs/model.ts): start a job's run, signal one, or a recycle tick of an app. */
  | JobEffect;

/** Why a worker is forked (what its fork is logged as). */
export type ForkPurpose = 'slot' | 'reload' | 'replace';

/** The context of one pass. */
export interface Pass {
  readonly now: number;
  readonly logger: Logger;
  readonly effects: Effect[];
  /** A key no worker had before. */
  newKey(): number;
  /** A number in [0, 1): the per-worker maxRequests jitter (seeded in the simulation). */
  random(): number;
}

/** Add a worker to the table and ask for its process. */
export function forkWorker(
  pass: Pass,
  app: AppModel,
  config: ResolvedApp,
  slot: number,
  generation: number,
  extra: { upBy?: number; replaces?: number; purpose?: ForkPurpose } = {},
): WorkerModel {
  const worker: WorkerModel = {
    key: pass.newKey(),
    app: app.name,
    slot,
    generation,
    config,
    forkedAt: pass.now,
    pid: null,
    log: pass.logger.child({ app: app.name, worker: slot, gen: generation }),
    lifecycle: 'starting',
    addresses: [],
    upAt: null,
    slowWarned: false,
    connections: null,
    shutdownDone: false,
    lastHeartbeat: null,
    rssBytes: null,
    stopReason: null,
    stopAt: null,
    killed: false,
    upBy: extra.upBy ?? null,
    replaces: extra.replaces ?? null,
    release: null,
    replaceFailures: 0,
    replaceAfter: 0,
    requestLimit: requestLimit(config, pass),
    requests: null,
    live: null,
  };
  app.workers.push(worker);
  pass.effects.push({ kind: 'fork', worker, purpose: extra.purpose ?? 'slot' });
  return worker;
}

/** Ask workers to drain: the intent is recorded first, so their exits are never taken for crashes. */
export function stopWorkers(pass: Pass, workers: readonly WorkerModel[], reason: StopReason): void {
  for (const worker of workers) {
    if (worker.stopReason !== null) continue;
    worker.log.info({ event: 'worker.state', from: worker.lifecycle, to: 'stopping', reason }, `${label(worker)} ${worker.lifecycle} → stopping (${reason})`);
    worker.stopReason = reason;
    worker.stopAt = pass.now;
    worker.upBy = null;
    pass.effects.push({ kind: 'shutdown', worker, timeoutMs: worker.config.killTimeoutMs });
  }
}

/** maxRequests plus a jitter in [0, maxRequestsJitter] drawn per worker (gunicorn's max_requests_jitter), so that workers forked together are not all recycled together. */
function requestLimit(config: ResolvedApp, pass: Pass): number | null {
  if (config.maxRequests === null) return null;
  return config.maxRequests + Math.floor(pass.random() * (config.maxRequestsJitter + 1));
}

/** Whether the app runs at most one process ever: its serving config, or the one a reload rolls onto, says singleton (the stricter rule wins either way). */
export function isSingleton(app: Pick<AppModel, 'config' | 'reload'>): boolean {
  return app.config.singleton || app.reload?.config.singleton === true;
}

/**
 * How many more processes the app may have right now. Never more than the serving count plus the
 * incoming count of a surging reload (2 × desired for a plain reload or a replacement): workers
 * still draining hold their place until they are gone, so a new one waits for them. A singleton
 * app may fork only when none of its processes is alive.
 */
export function budget(app: AppModel): number {
  // The one singleton guarantee: every fork path (slot, reload, replacement, restart) asks here, and
  // a worker leaves app.workers only once its exit is observed, so two never live at once.
  const run = app.reload;
  if (run?.handover && run.phase === 'surge' && !run.config.singleton) {
    // Turning singleton off: the old worker goes first, then the new generation surges as usual.
    if (app.workers.some((w) => w.generation !== run.generation)) return 0;
  } else if (isSingleton(app)) return app.workers.length === 0 ? 1 : 0;
  const incoming = app.reload?.phase === 'surge' ? app.reload.config.instances : app.slots.length;
  return app.slots.length + incoming - app.workers.length;
}
