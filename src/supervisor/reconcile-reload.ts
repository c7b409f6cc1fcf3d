// A rolling reload as part of the reconcile pass: start a run, surge the new generation next to the
// serving one (the pure plan in reload-plan.ts says what comes next), commit once every new worker
// is up (the new generation serves, the old one drains), and finish once the old one is gone; or
// roll back on the first failure. The serving generation's own slots are reconciled all along, so a
// worker of it that dies mid-reload is refilled whatever the reload's outcome.
import { notUpReason } from './readiness.ts';
import type { ResolvedApp } from '../config/define.ts';
import { formatDelay } from './backoff.ts';
import { RELOAD_HISTORY, freshSlots, isUp, type AppModel, type ReloadResult, type ReloadRun } from './model.ts';
import { budget, forkWorker, stopWorkers, type Pass } from './pass.ts';
import { nextReloadStep } from './reload-plan.ts';

/** Begin rolling `app` onto `fromFile` (a validated config) in a new generation. */
export function startReload(app: AppModel, fromFile: ResolvedApp, trigger: string, finish: (result: ReloadResult) => void, pass: Pass): void {
  let config = fromFile;
  // A count set with nsup scale outlives reloads (a restart of nsup goes back to the config); a singleton has one worker whatever was scaled before.
  if (app.scaledTo !== null && config.instances !== app.scaledTo && !config.singleton) {
    config = Object.freeze({ ...config, instances: app.scaledTo, instancesSource: `scaled to ${app.scaledTo} (nsup scale)` });
  }
  const generation = ++app.lastGeneration;
  // A singleton before or after: two of its processes must never live at once, so the old one goes first.
  const handover = app.config.singleton || config.singleton;
  app.reload = { generation, config, trigger, startedAt: pass.now, phase: 'surge', handover, failed: new Map(), finish };
  pass.logger.info(
    { event: 'reload.start', app: app.name, trigger, generation, instances: config.instances, handover },
    handover
      ? `${app.name}: reload to generation ${generation} (${trigger}): singleton, so the old worker stops first and the new one starts once it has exited (a short gap)`
      : `${app.name}: rolling reload to generation ${generation} (${trigger}): ${config.instances} new worker${config.instances === 1 ? '' : 's'}, ${config.reloadBatch} at a time`,
  );
}

/** Record why a new worker failed (the first reason per slot is kept). */
export function reloadFailure(run: ReloadRun, slot: number, reason: string): void {
  if (!run.failed.has(slot)) run.failed.set(slot, reason);
}

/** The next step of `app`'s reload, if one runs. */
export function advanceReload(app: AppModel, pass: Pass): void {
  const run = app.reload;
  if (!run) return;
  const incoming = app.workers.filter((w) => w.generation === run.generation && w.stopReason === null);
  if (run.handover && run.phase === 'surge') vacate(app, run, pass);
  if (run.phase === 'surge') {
    for (const worker of incoming) {
      if (!isUp(worker) && worker.upBy !== null && pass.now >= worker.upBy) {
        reloadFailure(run, worker.slot, `not up within listenTimeout ${formatDelay(worker.config.listenTimeoutMs)}: ${notUpReason(app, worker, pass.now)}`);
      }
    }
  }
  const slots = new Set([...incoming.map((w) => w.slot), ...run.failed.keys()]);
  const upIncoming = new Set(incoming.filter(isUp).map((w) => w.slot));
  const step = nextReloadStep({
    desired: run.config.instances,
    batch: run.config.reloadBatch,
    phase: run.phase,
    incoming: [...slots].sort((a, b) => a - b).map((slot) => ({ slot, up: upIncoming.has(slot), failed: run.failed.get(slot) ?? null })),
    oldAlive: app.workers.filter((w) => w.generation !== run.generation).length,
  });
  switch (step.kind) {
    case 'fork':
      for (const slot of step.slots) {
        if (budget(app) <= 0) break;
        forkWorker(pass, app, run.config, slot, run.generation, { upBy: pass.now + run.config.listenTimeoutMs, purpose: 'reload' });
      }
      return;
    case 'retire':
      return commit(app, run, pass);
    case 'done':
      return endReload(app, pass, { ok: true });
    case 'rollback':
      stopWorkers(pass, incoming, 'rollback');
      return endReload(app, pass, { ok: false, reason: step.reason });
    case 'wait':
      return;
  }
}

/** A singleton's handover: the old generation drains before the new one forks (budget() holds the fork until it has exited). */
function vacate(app: AppModel, run: ReloadRun, pass: Pass): void {
  const old = app.workers.filter((w) => w.generation !== run.generation && w.stopReason === null);
  if (old.length === 0) return;
  pass.logger.info(
    { event: 'reload.step', app: app.name, gen: run.generation, step: 'vacate', old: old.map((w) => w.pid) },
    `${app.name}: reload: singleton, draining the old worker before starting the new one`,
  );
  stopWorkers(pass, old, 'reload');
  // Its slot is due and waits for room (fillSlots leaves it to the incoming generation until the reload ends).
  for (const worker of old) {
    const slot = worker.generation === app.generation ? app.slots[worker.slot] : undefined;
    if (slot) slot.retryAt ??= pass.now;
  }
}

/** Every new worker is up: the new generation serves from now on, and the old one drains. */
function commit(app: AppModel, run: ReloadRun, pass: Pass): void {
  const restarts = app.slots.map((slot) => slot.restarts);
  app.config = run.config;
  app.generation = run.generation;
  // A successful reload clears crash loops and halts: the slots start over with the new code.
  app.slots = freshSlots(run.config.instances).map((slot, index) => ({ ...slot, restarts: restarts[index] ?? 0 }));
  run.phase = 'retire';
  for (const worker of app.workers) if (worker.generation === run.generation) worker.upBy = null;
  const old = app.workers.filter((w) => w.generation !== run.generation);
  pass.logger.info(
    { event: 'reload.step', app: app.name, gen: run.generation, step: 'retire', old: old.map((w) => w.pid) },
    `${app.name}: reload: every new worker is up; draining ${old.length} old worker${old.length === 1 ? '' : 's'}`,
  );
  stopWorkers(pass, old, 'reload');
  if (old.length === 0) endReload(app, pass, { ok: true });
}

/** Finish `app`'s reload: report it once, to the log, the counters and whoever asked. */
export function endReload(app: AppModel, pass: Pass, outcome: { ok: boolean; reason?: string }): void {
  const run = app.reload!;
  app.reload = null;
  // Past the commit the new generation serves: a stop that cuts the old one's drain short does not undo that.
  const ok = outcome.ok || run.phase === 'retire';
  const durationMs = pass.now - run.startedAt;
  const result: ReloadResult = { app: app.name, ok, generation: app.generation, durationMs, ...(!ok && outcome.reason ? { reason: outcome.reason } : {}) };
  if (ok) {
    app.counters.reloadsDone++;
    pass.logger.info({ event: 'reload.done', app: app.name, generation: run.generation, durationMs, trigger: run.trigger }, `${app.name}: reload to generation ${run.generation} done in ${durationMs} ms`);
  } else {
    app.counters.reloadsRolledBack++;
    pass.logger.error(
      { event: 'reload.rolled-back', app: app.name, generation: run.generation, durationMs, reason: outcome.reason, lastFailure: app.lastFailure, trigger: run.trigger },
      `${app.name}: reload to generation ${run.generation} rolled back after ${durationMs} ms because ${outcome.reason}; ` +
        (run.handover ? `generation ${app.generation} starts again once the failed worker has exited (singleton: its worker was stopped first)` : `generation ${app.generation} keeps serving`),
    );
  }
  app.lastReload = result;
  app.reloads.push({ generation: run.generation, trigger: run.trigger, startedAt: run.startedAt, durationMs, ok, ...(result.reason ? { reason: result.reason } : {}) });
  if (app.reloads.length > RELOAD_HISTORY) app.reloads.splice(0, app.reloads.length - RELOAD_HISTORY);
  run.finish(result);
}
