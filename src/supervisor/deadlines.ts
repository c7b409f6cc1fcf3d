// The core's timers, derived from the table instead of stored in it: the next moment at which a
// reconcile pass has something to do (a backoff ends, a kill or listen deadline passes, a heartbeat
// is overdue, a job's tick is due). The Supervisor arms one timer for it; no timer can outlive the record it was for.
import { scheduleDeadlines } from '../jobs/reconcile-schedules.ts';
import { coveredSlots, isUp, type CoreModel } from './model.ts';
import { heartbeatDeadline } from './reconcile-replace.ts';
import { onlineUpAt, slowAt } from './readiness.ts';

/** The earliest deadline after `now`, or Infinity when nothing is due ever. */
export function nextDeadline(model: CoreModel, now: number): number {
  let next = Infinity;
  const consider = (at: number | null) => {
    // Past deadlines were acted on (or wait for an event, such as a drain freeing room): never re-armed.
    if (at !== null && at > now && at < next) next = at;
  };
  if (!model.started || model.finished) return next;
  for (const app of model.apps.values()) {
    const covered = coveredSlots(app);
    app.slots.forEach((slot, index) => {
      if (!slot.halted && slot.doneWith === null && !covered.has(index)) consider(slot.retryAt);
    });
    for (const worker of app.workers) {
      if (worker.stopReason !== null) {
        if (!worker.killed && worker.stopAt !== null) consider(worker.stopAt + worker.config.killTimeoutMs);
        continue;
      }
      if (!isUp(worker)) {
        consider(worker.upBy);
        if (worker.upBy === null && !worker.slowWarned) consider(slowAt(worker));
        if (worker.config.readyWhen === 'online') consider(onlineUpAt(worker));
      }
      else consider(heartbeatDeadline(worker));
      if (worker.replaceFailures > 0) consider(worker.replaceAfter);
    }
    if (app.op?.kind === 'restart') consider(app.op.upBy);
    // Job ticks, timeouts and kill deadlines, and the recycle schedule: the same one timer.
    scheduleDeadlines(app.scheduled, app.config.killTimeoutMs, model.stopping !== null || app.op?.kind === 'stop', consider);
  }
  return next;
}
