// One reconcile pass: the time it runs at, the effects it decides, and the few primitives every
// decision uses (fork a worker, ask one to stop). The Supervisor carries the effects out.
import type { ResolvedApp } from '../config/define.ts';
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
  | { kind: 'finished'; code: number };

/** Why a worker is forked (what its fork is logged as). */
export type ForkPurpose = 'slot' | 'reload' | 'replace';

/** The context of one pass. */
export interface Pass {
  readonly now: number;
  readonly logger: Logger;
  readonly effects: Effect[];
  /** A key no worker had before. */
  newKey(): number;
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

/**
 * How many more processes the app may have right now. Never more than the serving count plus the
 * incoming count of a surging reload (2 × desired for a plain reload or a replacement): workers
 * still draining hold their place until they are gone, so a new one waits for them.
 */
export function budget(app: AppModel): number {
  const incoming = app.reload?.phase === 'surge' ? app.reload.config.instances : app.slots.length;
  return app.slots.length + incoming - app.workers.length;
}
