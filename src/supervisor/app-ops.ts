// App operations from the control socket and signals: stop, restart (not zero-downtime) and scale.
import { formatDelay } from './backoff.ts';
import type { Core, EventOf } from './core.ts';
import { freshSlots, type AppOpResult, type AppRuntime } from './records.ts';
import { endReload } from './reloading.ts';

/** An `app-op` event: stop, restart or scale one app. */
export function onAppOp(core: Core, { app: name, op, to, finish }: EventOf<'app-op'>): void {
  const app = core.apps.get(name);
  const fail = (message: string) => finish({ ok: false, app: name, message });
  if (!app) return fail(`no app named '${name}' in this supervisor (apps: ${[...core.apps.keys()].join(', ')})`);
  if (core.isStopping) return fail('the supervisor is stopping');
  if (app.pending) return fail(`a ${app.pending.op} of ${name} is already under way`);
  if (app.reload && op !== 'stop') return fail(`a reload of ${name} is under way; try again when it is done`);
  if (app.reload) endReload(core, app, { ok: false, reason: `${name} is being stopped` });
  const log = core.logger.child({ app: name });
  if (op === 'scale') return finish(scale(core, app, to ?? app.config.instances));
  log.info({ event: `app.${op}` }, `${name}: ${op === 'stop' ? 'stopping' : 'restarting (not zero-downtime: stop every worker, then start)'}`);
  app.pending = {
    op,
    done: () => {
      app.pending = null;
      if (op === 'stop') {
        core.apps.delete(name);
        log.info({ event: 'app.stopped' }, `${name}: stopped`);
        finish({ ok: true, app: name, message: `${name} stopped` });
        if (core.apps.size === 0) core.onStop(`nsup stop ${name} (no app left)`);
        return;
      }
      app.generation = Math.max(app.generation, ...app.records.map((r) => r.generation)) + 1;
      app.slots = freshSlots(app.config.instances);
      for (let slot = 0; slot < app.config.instances; slot++) core.fork(app, app.config, slot, app.generation);
      void core.whenUp([name], app.config.listenTimeoutMs).then((up) =>
        finish(up ? { ok: true, app: name, message: `${name} restarted` } : { ok: false, app: name, message: `${name} restarted, but not every worker came up within ${formatDelay(app.config.listenTimeoutMs)}${app.lastFailure ? `: ${app.lastFailure.reason}` : ''}` }),
      );
    },
  };
  core.stopRecords(app.records, op === 'stop' ? 'shutdown' : 'restart');
  if (app.records.length === 0) app.pending.done();
  core.refreshAppStates();
}

/** Add workers (new slots) or drain the highest slots, to `to` workers. */
export function scale(core: Core, app: AppRuntime, to: number): AppOpResult {
  const name = app.config.name;
  const from = app.config.instances;
  if (!Number.isSafeInteger(to) || to < 1) return { ok: false, app: name, message: `cannot scale ${name} to ${to}: give a worker count of 1 or more (to stop the app: nsup stop ${name})` };
  if (to === from) return { ok: true, app: name, message: `${name} already has ${to} worker${to === 1 ? '' : 's'}` };
  app.config = Object.freeze({ ...app.config, instances: to, instancesSource: `scaled from ${from} to ${to}` });
  app.scaledTo = to;
  core.logger.info({ event: 'app.scale', app: name, from, to }, `${name}: scaling from ${from} to ${to} workers`);
  if (to > from) {
    for (let slot = from; slot < to; slot++) {
      app.slots[slot] = { restarts: 0, failures: 0, halted: false };
      core.fork(app, app.config, slot, app.generation);
    }
  } else {
    app.slots.length = to;
    core.stopRecords(app.records.filter((r) => r.slot >= to), 'scale-down');
  }
  core.refreshAppStates();
  return { ok: true, app: name, message: `${name}: ${from} → ${to} workers` };
}

