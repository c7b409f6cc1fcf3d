// Commands as part of the reconcile pass: a reload, stop, restart or scale is taken on (or refused
// with the reason), and the stop and restart operations run to their end: every worker drained,
// then the app gone (stop) or started afresh in a new generation (restart, not zero-downtime).
import { runningJobs } from '../jobs/reconcile-schedules.ts';
import { formatDelay } from './backoff.ts';
import { freshSlots, upSlots, type AppModel, type AppOp, type AppOpResult, type Command, type CoreModel } from './model.ts';
import { stopWorkers, type Pass } from './pass.ts';
import { endReload, startReload } from './reconcile-reload.ts';

/** Whether the operation is in its draining part (nothing is forked for the app meanwhile). */
export function isStoppingOp(op: AppOp | null): boolean {
  return op !== null && (op.kind === 'stop' || op.phase === 'stopping');
}

/** Act on the app's queued commands, in order; a command that cannot run now is answered with why. */
export function takeCommands(model: CoreModel, app: AppModel, pass: Pass): void {
  for (const command of app.inbox.splice(0)) {
    const refusal = refuse(model, app, command);
    if (refusal !== null) {
      if (command.kind === 'reload') command.finish({ app: app.name, ok: false, generation: app.generation, durationMs: 0, reason: refusal });
      else command.finish({ ok: false, app: app.name, message: refusal });
      continue;
    }
    const log = pass.logger.child({ app: app.name });
    switch (command.kind) {
      case 'reload':
        startReload(app, command.config, command.trigger, command.finish, pass);
        break;
      case 'stop':
        if (app.reload) endReload(app, pass, { ok: false, reason: `${app.name} is being stopped` });
        log.info({ event: 'app.stop' }, `${app.name}: stopping`);
        app.op = { kind: 'stop', finish: command.finish };
        break;
      case 'restart':
        log.info({ event: 'app.restart' }, `${app.name}: restarting (not zero-downtime: stop every worker, then start)`);
        app.op = { kind: 'restart', phase: 'stopping', upBy: null, finish: command.finish };
        break;
      case 'scale':
        command.finish(scale(app, scaleTarget(app, command), pass));
        break;
    }
  }
}

/** Why a command cannot run now, or null. */
function refuse(model: CoreModel, app: AppModel, command: Command): string | null {
  if (model.stopping) return 'the supervisor is stopping';
  if (app.op) return `a ${app.op.kind} of ${app.name} is already under way`;
  if (command.kind === 'reload') return app.reload ? 'a reload of this app is already running' : null;
  if (app.reload && command.kind !== 'stop') return `a reload of ${app.name} is under way; try again when it is done`;
  if (command.kind === 'scale') {
    const to = scaleTarget(app, command);
    if (!Number.isSafeInteger(to) || to < 1) return `cannot scale ${app.name} to ${to}: give a worker count of 1 or more (to stop the app: nsup stop ${app.name})`;
    if (app.config.singleton && to !== 1) return `${app.name} is a singleton (singleton: true): it runs exactly one worker, so it cannot be scaled to ${to}`;
  }
  return null;
}

function scaleTarget(app: AppModel, command: Extract<Command, { kind: 'scale' }>): number {
  return command.to ?? app.slots.length + command.delta;
}

/** Set the app's worker count: new slots get workers in this pass, slots scaled away drain. */
function scale(app: AppModel, to: number, pass: Pass): AppOpResult {
  const from = app.slots.length;
  // A scale starts done slots (restart.stopExitCodes) again, like a reload would: the fill of this pass forks them.
  const done = app.slots.slice(0, to).filter((slot) => slot.doneWith !== null);
  for (const slot of done) slot.doneWith = null;
  const again = done.length > 0 ? `; ${done.length} done worker${done.length === 1 ? '' : 's'} started again` : '';
  if (done.length > 0) pass.logger.info({ event: 'app.done-restarted', app: app.name, slots: done.length }, `${app.name}: starting ${done.length} done worker${done.length === 1 ? '' : 's'} again (scale)`);
  if (to === from) return { ok: true, app: app.name, message: `${app.name} already has ${to} worker${to === 1 ? '' : 's'}${again}` };
  app.config = Object.freeze({ ...app.config, instances: to, instancesSource: `scaled from ${from} to ${to}` });
  app.scaledTo = to;
  app.slots = to > from ? [...app.slots, ...freshSlots(to - from)] : app.slots.slice(0, to);
  pass.logger.info({ event: 'app.scale', app: app.name, from, to }, `${app.name}: scaling from ${from} to ${to} workers`);
  return { ok: true, app: app.name, message: `${app.name}: ${from} → ${to} workers${again}` };
}

/** The draining part of a stop or restart: drain every worker (and, for a stop, end every job run); once none is left, finish (stop) or start afresh (restart). */
export function runStoppingOp(model: CoreModel, app: AppModel, pass: Pass): void {
  const op = app.op;
  if (!op) return;
  stopWorkers(pass, app.workers, op.kind === 'stop' ? 'shutdown' : 'restart');
  if (app.workers.length > 0) return;
  // A stop ends the app's job runs too (reconcile-schedules.ts sends their SIGTERM); a restart leaves them alone.
  if (op.kind === 'stop' && runningJobs(app.scheduled) > 0) return;
  if (op.kind === 'stop') {
    app.op = null;
    model.apps.delete(app.name);
    pass.logger.info({ event: 'app.stopped', app: app.name }, `${app.name}: stopped`);
    op.finish({ ok: true, app: app.name, message: `${app.name} stopped` });
    if (model.apps.size === 0 && !model.stopping) model.stopRequests.push({ source: `nsup stop ${app.name} (no app left)`, exitCode: 0 });
    return;
  }
  app.generation = ++app.lastGeneration;
  app.slots = freshSlots(app.config.instances);
  app.op = { ...op, phase: 'starting', upBy: pass.now + app.config.listenTimeoutMs };
}

/** A restart whose workers were started afresh: done once every slot is up, failed at its deadline. */
export function finishRestart(app: AppModel, pass: Pass): void {
  const op = app.op;
  if (op?.kind !== 'restart' || op.phase !== 'starting') return;
  const up = upSlots(app);
  if (app.slots.every((_, slot) => up.has(slot))) {
    app.op = null;
    op.finish({ ok: true, app: app.name, message: `${app.name} restarted` });
  } else if (op.upBy !== null && pass.now >= op.upBy) {
    app.op = null;
    op.finish({
      ok: false,
      app: app.name,
      message: `${app.name} restarted, but not every worker came up within ${formatDelay(app.config.listenTimeoutMs)}${app.lastFailure ? `: ${app.lastFailure.reason}` : ''}`,
    });
  }
}
