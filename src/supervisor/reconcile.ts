// The level-triggered core. After every event, one pass compares what should run with what runs,
// app by app, and decides: restarts and backoff from the recorded exits, a worker for every slot
// that has none, the next step of a reload or an app operation, replacements, SIGKILL after the kill
// timeout, and the stop. Nothing here does I/O: decisions are written to the table and returned
// as effects for the Supervisor to carry out (gunicorn's manage_workers(), a Kubernetes Reconcile).
import { reconcileSchedules, runningJobs } from '../jobs/reconcile-schedules.ts';
import { deriveAppState } from './app-state.ts';
import { decideExit, formatDelay } from './backoff.ts';
import { coveredSlots, label, reportLines, slotWorkers, upSlots, type AppModel, type CoreModel, type WorkerModel } from './model.ts';
import { isReadyNow, notUpReason, slowAt } from './readiness.ts';
import { budget, forkWorker, stopWorkers, type Effect, type Pass } from './pass.ts';
import { takeCommands, runStoppingOp, finishRestart, isStoppingOp } from './reconcile-ops.ts';
import { advanceReload, endReload, reloadFailure } from './reconcile-reload.ts';
import { noteReplaceFailure, replaceWorkers } from './reconcile-replace.ts';

export type { Effect, Pass } from './pass.ts';

/** One reconcile pass over the whole table at `pass.now`; returns the effects in the order decided. */
export function reconcile(model: CoreModel, pass: Pass): Effect[] {
  if (!model.started) return pass.effects;
  if (model.finished) {
    // Nothing runs any more, but every request still gets its answer.
    for (const app of model.apps.values()) {
      takeCommands(model, app, pass);
      reconcileSchedules(app, pass, { stopping: true, lastTicks: model.lastTicks });
    }
    return pass.effects;
  }
  // An app operation can raise a stop (the last app was stopped): then one more round applies it.
  for (let round = 0; round < 2; round++) {
    beginStop(model, pass);
    for (const app of [...model.apps.values()]) reconcileApp(model, app, pass);
    if (model.stopRequests.length === 0) break;
  }
  // A job's run ends with the supervisor too (SIGTERM, then SIGKILL): nsup exits only once it is gone.
  if (model.stopping && [...model.apps.values()].every((app) => app.workers.length === 0 && runningJobs(app.scheduled) === 0)) {
    model.finished = true;
    pass.logger.info({ event: 'supervisor.stopped' }, 'every worker and job has exited; bye');
    pass.effects.push({ kind: 'finished', code: model.stopping.exitCode });
  }
  refreshStates(model, pass);
  return pass.effects;
}

/**
 * Workers that are up by their app's readyWhen from now on (they stay up); and one warning for a
 * worker outside a reload that is still not up after listenTimeout, saying why.
 */
function markUp(app: AppModel, pass: Pass): void {
  for (const worker of app.workers) {
    if (worker.upAt !== null || worker.stopReason !== null) continue;
    if (isReadyNow(app, worker, pass.now)) {
      worker.upAt = pass.now;
      worker.log.info({ event: 'worker.up', addresses: worker.addresses, readyWhen: worker.config.readyWhen }, `${label(worker)} is up (${upBecause(worker)})`);
    } else if (!worker.slowWarned && worker.upBy === null && pass.now >= slowAt(worker)) {
      worker.slowWarned = true;
      worker.log.warn({ event: 'worker.slow-start', reason: notUpReason(app, worker, pass.now) }, `${label(worker)} is not up: ${notUpReason(app, worker, pass.now)}`);
    }
  }
}

function upBecause(worker: WorkerModel): string {
  if (worker.config.readyWhen === 'online') return 'online';
  if (worker.config.readyWhen === 'ready') return 'called ready()';
  return `listening on ${worker.addresses.join(', ')}`;
}

/** A stop request starts the stop; one more while stopping forces it (SIGKILL every worker). */
function beginStop(model: CoreModel, pass: Pass): void {
  for (const request of model.stopRequests.splice(0)) {
    if (!model.stopping) {
      model.stopping = { source: request.source, forced: false, exitCode: request.exitCode };
      pass.logger.info({ event: 'supervisor.stopping', source: request.source }, `${request.source}: draining every worker, then stopping`);
      pass.effects.push({ kind: 'stopping', source: request.source });
    } else if (!model.stopping.forced) {
      model.stopping.forced = true;
      model.stopping.exitCode = Math.max(model.stopping.exitCode, request.exitCode);
      pass.logger.warn({ event: 'supervisor.stopping', source: request.source, force: true }, `${request.source} again: stopping at once (SIGKILL to every worker)`);
    }
  }
}

function reconcileApp(model: CoreModel, app: AppModel, pass: Pass): void {
  markUp(app, pass);
  decideExits(model, app, pass);
  takeCommands(model, app, pass);
  scheduleWork(model, app, pass);
  if (model.stopping) {
    if (app.reload) endReload(app, pass, { ok: false, reason: 'the supervisor is stopping' });
    if (app.op?.kind === 'restart') {
      app.op.finish({ ok: false, app: app.name, message: 'the supervisor is stopping' });
      app.op = null;
    }
    if (app.op?.kind === 'stop') runStoppingOp(model, app, pass);
    else stopWorkers(pass, app.workers, 'shutdown');
    if (model.stopping.forced) killAll(app, pass);
  } else {
    if (isStoppingOp(app.op)) runStoppingOp(model, app, pass);
    if (!isStoppingOp(app.op) && model.apps.has(app.name)) {
      retireStrays(app, pass);
      fillSlots(app, pass);
      replaceWorkers(app, pass);
      const reloading = app.reload !== null;
      advanceReload(app, pass);
      // A reload that ended in this pass gives its room back: a singleton's rolled-back handover refills its slot now.
      if (reloading && app.reload === null) fillSlots(app, pass);
      finishRestart(app, pass);
    }
  }
  killOverdue(app, pass);
}

/**
 * The app's jobs and recycle schedule: they belong to the app, so a reload, a crash loop or a scale
 * never touches them; only a stop (the app's or the supervisor's) ends their runs.
 */
function scheduleWork(model: CoreModel, app: AppModel, pass: Pass): void {
  const before = pass.effects.length;
  reconcileSchedules(app, pass, { stopping: model.stopping !== null || app.op?.kind === 'stop', lastTicks: model.lastTicks });
  for (let i = before; i < pass.effects.length; i++) if (pass.effects[i]!.kind === 'recycle') app.counters.recycleTicks++;
}

/** Turn each recorded exit into its consequence: a reload failure, a failed replacement, or a restart decision. */
function decideExits(model: CoreModel, app: AppModel, pass: Pass): void {
  for (const exit of app.exits.splice(0)) {
    const { worker } = exit;
    const expected = worker.stopReason !== null;
    // An exit with one of restart.stopExitCodes is the app saying it is done: not a failure.
    const stopCode = exit.code !== null && worker.config.restart.stopExitCodes.includes(exit.code);
    const run = app.reload;
    const incoming = run?.phase === 'surge' && worker.generation === run.generation;
    if (!expected && (!stopCode || incoming || worker.replaces !== null)) {
      app.lastFailure = { at: new Date(exit.at).toISOString(), worker: worker.slot, pid: worker.pid, code: exit.code, signal: exit.signal, reason: exit.reason, stderr: reportLines(exit.stderr) };
    }
    if (run && incoming) {
      // A new worker of a reload: its failure fails the reload; it is never restarted. A stop exit
      // code counts too: a new version that is done before it was up cannot take over serving.
      if (!expected) reloadFailure(run, worker.slot, `${worker.upAt === null ? 'exited before it was up' : 'exited before the reload was done'}: ${exit.reason}`);
      continue;
    }
    if (worker.replaces !== null) {
      if (!expected) {
        worker.log.error({ event: 'worker.replace-failed', replaces: worker.replaces, reason: exit.reason }, `${label(worker)}: the replacement exited before it was up (${exit.reason}); the old worker keeps serving`);
        const old = app.workers.find((w) => w.key === worker.replaces);
        if (old) noteReplaceFailure(old, pass);
      }
      continue;
    }
    if (expected || model.stopping || isStoppingOp(app.op) || worker.generation !== app.generation) continue;
    const slot = app.slots[worker.slot];
    if (!slot) continue;
    const decision = decideExit(
      { stopReason: null, code: exit.code, uptimeMs: exit.at - worker.forkedAt, upMs: worker.upAt === null ? null : exit.at - worker.upAt, failures: slot.failures, shuttingDown: false },
      worker.config.restart,
    );
    if (decision.kind === 'none') continue;
    slot.failures = decision.kind === 'done' ? 0 : decision.failures;
    // A replacement already runs for this slot (memory limit, hung worker): it takes over.
    if (slotWorkers(app, worker.slot).length > 0) continue;
    if (decision.kind === 'done') {
      slot.doneWith = decision.code;
      slot.retryAt = null;
      worker.log.info(
        { event: 'worker.done', code: decision.code },
        `${label(worker)} exited with code ${decision.code} (restart.stopExitCodes): done, not restarting it; nsup reload, scale or restart ${app.name} starts it again`,
      );
      continue;
    }
    if (decision.kind === 'halt') {
      slot.halted = true;
      slot.retryAt = null;
      worker.log.error(
        { event: 'worker.halted', failures: decision.failures, lastFailure: app.lastFailure },
        `${label(worker)} failed to start ${decision.failures} times in a row (restart.maxRestarts = ${worker.config.restart.maxRestarts}): ` +
          `not restarting it. Last failure: ${exit.reason}. Fix the cause, then reload the app.`,
      );
      continue;
    }
    slot.restarts++;
    app.counters.restarts++;
    slot.retryAt = pass.now + decision.delayMs;
    const fields = { event: 'worker.restart', delayMs: decision.delayMs, attempt: decision.failures, lastFailure: app.lastFailure };
    if (decision.delayMs === 0) worker.log.info(fields, `restarting ${label(worker)} now`);
    else worker.log.warn(fields, `restarting worker ${worker.slot} in ${formatDelay(decision.delayMs)} (attempt ${decision.failures}); last exit: ${exit.reason}`);
  }
}

/** Workers nobody wants any more: of a generation that is neither serving nor incoming, or of a slot scaled away. */
function retireStrays(app: AppModel, pass: Pass): void {
  const incoming = app.reload?.phase === 'surge' ? app.reload.generation : null;
  for (const worker of app.workers) {
    if (worker.stopReason !== null) continue;
    if (worker.generation === app.generation) {
      if (worker.slot >= app.slots.length) stopWorkers(pass, [worker], 'scale-down');
    } else if (worker.generation !== incoming) {
      stopWorkers(pass, [worker], worker.generation > app.generation ? 'rollback' : 'reload');
    }
  }
}

/** Every slot of the serving generation gets a worker, unless it waits for its backoff, is halted or is done. */
function fillSlots(app: AppModel, pass: Pass): void {
  // Forking for one slot changes no other slot's answer: the set taken before the loop holds.
  const covered = coveredSlots(app);
  app.slots.forEach((slot, index) => {
    if (covered.has(index)) {
      slot.retryAt = null;
      return;
    }
    if (slot.halted || slot.doneWith !== null || (slot.retryAt !== null && pass.now < slot.retryAt)) return;
    // No room while workers still drain (at most their kill timeout): the slot's start is due and
    // waits for the next exit, recorded as scheduled so the slot is never simply empty. A singleton's
    // handover leaves the room to the incoming generation (a rollback ends it, then the slot forks).
    if (budget(app) <= 0 || (app.reload?.handover === true && app.reload.phase === 'surge')) {
      slot.retryAt ??= pass.now;
      return;
    }
    slot.retryAt = null;
    forkWorker(pass, app, app.config, index, app.generation);
  });
}

/** SIGKILL workers still draining past their kill timeout. */
function killOverdue(app: AppModel, pass: Pass): void {
  for (const worker of app.workers) {
    if (worker.stopAt === null || worker.killed || pass.now < worker.stopAt + worker.config.killTimeoutMs) continue;
    const within = formatDelay(worker.config.killTimeoutMs);
    worker.log.warn(
      { event: 'worker.kill', killTimeoutMs: worker.config.killTimeoutMs, shutdownDone: worker.shutdownDone },
      worker.shutdownDone
        ? `${label(worker)} ran its shutdown code, but its process did not end within ${within}: something keeps its event loop alive ` +
            `(its last stderr line lists what); end the app's ${worker.config.killSignal} listener with process.exit(), or close those: SIGKILL`
        : `${label(worker)} did not finish draining within ${within}: SIGKILL`,
    );
    worker.killed = true;
    pass.effects.push({ kind: 'kill', worker });
  }
}

function killAll(app: AppModel, pass: Pass): void {
  for (const worker of app.workers) {
    if (worker.killed) continue;
    worker.killed = true;
    pass.effects.push({ kind: 'kill', worker });
  }
}

/** Derive every app's state; log and report the ones that changed. */
function refreshStates(model: CoreModel, pass: Pass): void {
  for (const app of model.apps.values()) {
    const up = upSlots(app);
    const slots = app.slots.map((stats, slot) => ({ ...stats, up: up.has(slot), done: stats.doneWith !== null }));
    const state = deriveAppState(slots, { stopping: model.stopping !== null || isStoppingOp(app.op), reloading: app.reload !== null });
    if (state === app.state) continue;
    const failure = state === 'crash-loop' || state === 'errored' ? app.lastFailure : undefined;
    pass.logger[failure ? 'warn' : 'info'](
      { event: 'app.state', app: app.name, from: app.state, to: state, lastFailure: failure },
      `${app.name}: ${app.state} → ${state}${failure ? ` (last exit: ${failure.reason})` : ''}`,
    );
    app.state = state;
    pass.effects.push({ kind: 'app-state', app });
  }
}
