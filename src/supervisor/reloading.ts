// Rolling reloads, event by event: start a run, ask the pure plan (reload-plan.ts) for the next
// step after every worker event, and finish it (done, or rolled back).
import type { Core, EventOf } from './core.ts';
import { freshSlots, type AppRuntime, type ReloadResult } from './records.ts';
import { nextReloadStep } from './reload-plan.ts';

/** A `reload-start` event: begin rolling `app` onto the new config (refused if one runs). */
export function onReloadStart(core: Core, { app: name, config: fromFile, trigger, finish }: EventOf<'reload-start'>): void {
  let config = fromFile;
  const app = core.apps.get(name);
  const refuse = (reason: string) => finish({ app: name, ok: false, generation: app?.generation ?? 0, durationMs: 0, reason });
  if (!app) return refuse(`no app named '${name}'`);
  if (core.isStopping) return refuse('the supervisor is stopping');
  if (app.reload) return refuse('a reload of this app is already running');
  const generation = Math.max(app.generation, ...app.records.map((r) => r.generation)) + 1;
  // A count set with nsup scale outlives reloads (a restart of nsup goes back to the config).
  if (app.scaledTo !== null && config.instances !== app.scaledTo) {
    config = Object.freeze({ ...config, instances: app.scaledTo, instancesSource: `scaled to ${app.scaledTo} (nsup scale)` });
  }
  app.reload = { generation, config, trigger, startedAt: Date.now(), phase: 'surge', failed: new Map(), finish };
  core.logger.info(
    { event: 'reload.start', app: name, trigger, generation, instances: config.instances },
    `${name}: rolling reload to generation ${generation} (${trigger}): ${config.instances} new worker${config.instances === 1 ? '' : 's'}, ${config.reloadBatch} at a time`,
  );
  // Slots parked in backoff would fork old code mid-reload; the new generation replaces them.
  for (const record of [...app.records]) {
    if (record.state === 'waiting') {
      core.move(record, 'exited');
      core.remove(record);
    }
  }
  advanceReload(core, app);
}

/** Ask the reload plan what comes next for `app`, and do it. */
export function advanceReload(core: Core, app: AppRuntime): void {
  const run = app.reload;
  if (!run) return;
  const incoming = app.records.filter((r) => r.generation === run.generation && r.stopReason === null);
  const slotsSeen = new Set([...incoming.map((r) => r.slot), ...run.failed.keys()]);
  const step = nextReloadStep({
    desired: run.config.instances,
    batch: run.config.reloadBatch,
    phase: run.phase,
    incoming: [...slotsSeen].map((slot) => ({
      slot,
      up: incoming.some((r) => r.slot === slot && core.isUpRecord(r)),
      failed: run.failed.get(slot) ?? null,
    })),
    oldAlive: app.records.filter((r) => r.generation !== run.generation).length,
  });
  const log = core.logger.child({ app: app.config.name, gen: run.generation });
  switch (step.kind) {
    case 'fork':
      for (const slot of step.slots) {
        const record = core.fork(app, run.config, slot, run.generation);
        const key = record.key;
        record.listenTimer = setTimeout(() => core.enqueue({ type: 'listen-timeout', key }), run.config.listenTimeoutMs);
        log.info({ event: 'reload.step', step: 'fork', worker: slot, pid: record.pid }, `${app.config.name}: reload: new worker ${slot} (pid ${record.pid}) starting`);
      }
      return;
    case 'retire': {
      run.phase = 'retire';
      const old = app.records.filter((r) => r.generation !== run.generation);
      log.info({ event: 'reload.step', step: 'retire', old: old.map((r) => r.pid) }, `${app.config.name}: reload: every new worker is up; draining ${old.length} old worker${old.length === 1 ? '' : 's'}`);
      for (const record of old) {
        if (record.state === 'waiting') {
          core.move(record, 'exited');
          core.remove(record);
        } else if (record.state !== 'stopping') {
          core.requestStop(record, 'reload');
        }
      }
      return advanceReload(core, app);
    }
    case 'done':
      return endReload(core, app, { ok: true });
    case 'rollback':
      for (const record of incoming) core.requestStop(record, 'rollback');
      return endReload(core, app, { ok: false, reason: step.reason });
    case 'wait':
      return;
  }
}

export function endReload(core: Core, app: AppRuntime, outcome: { ok: boolean; reason?: string }): void {
  const run = app.reload!;
  app.reload = null;
  const durationMs = Date.now() - run.startedAt;
  const result: ReloadResult = { app: app.config.name, ok: outcome.ok, generation: outcome.ok ? run.generation : app.generation, durationMs, ...(outcome.reason ? { reason: outcome.reason } : {}) };
  if (outcome.ok) app.counters.reloadsDone++;
  else app.counters.reloadsRolledBack++;
  if (outcome.ok) {
    const restarts = app.slots.map((s) => s.restarts);
    app.config = run.config;
    app.generation = run.generation;
    app.slots = freshSlots(run.config.instances).map((s, i) => ({ ...s, restarts: restarts[i] ?? 0 }));
    core.logger.info({ event: 'reload.done', app: app.config.name, generation: run.generation, durationMs, trigger: run.trigger }, `${app.config.name}: reload to generation ${run.generation} done in ${durationMs} ms`);
  } else {
    core.logger.error(
      { event: 'reload.rolled-back', app: app.config.name, generation: run.generation, durationMs, reason: outcome.reason, lastFailure: app.lastFailure, trigger: run.trigger },
      `${app.config.name}: reload to generation ${run.generation} rolled back after ${durationMs} ms because ${outcome.reason}; generation ${app.generation} keeps serving`,
    );
  }
  app.lastReload = result;
  core.refreshAppStates();
  run.finish(result);
}

