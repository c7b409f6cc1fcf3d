// Replacing one worker through the rolling path, as part of the reconcile pass: a worker above
// maxMemory, one whose event loop stopped beating for heartbeatTimeout, or one that served its
// maxRequests gets a replacement in its slot; once that one is up the old one drains. A replacement
// that fails leaves the old worker serving, and the next attempt backs off. A singleton cannot have
// two: its worker drains first, and its slot forks again once it has exited.
import { formatDelay, nextDelay } from './backoff.ts';
import { isUp, label, type AppModel, type WorkerModel } from './model.ts';
import { budget, forkWorker, isSingleton, stopWorkers, type Pass } from './pass.ts';

/** Why a worker is replaced: the kind (log field `kind`) and one line saying why. */
export interface ReplaceReason {
  kind: 'memory' | 'hung' | 'requests';
  text: string;
}

/** Finish replacements under way, and start one for every worker that needs it. */
export function replaceWorkers(app: AppModel, pass: Pass): void {
  for (const next of app.workers) {
    if (next.replaces === null || next.stopReason !== null) continue;
    const old = app.workers.find((w) => w.key === next.replaces);
    if (!old || old.stopReason !== null) {
      // The old worker is gone (or leaving anyway): the replacement is simply the slot's worker now.
      next.replaces = null;
      next.upBy = null;
    } else if (isUp(next)) {
      next.log.info({ event: 'worker.replaced', old: old.pid }, `${label(next)} is up; draining ${label(old)}`);
      next.replaces = null;
      next.upBy = null;
      if (servedLimit(old)) app.counters.recycledRequests++;
      stopWorkers(pass, [old], 'replaced');
    } else if (next.upBy !== null && pass.now >= next.upBy) {
      next.log.error({ event: 'worker.replace-failed', replaces: old.key }, `${label(next)}: the replacement did not come up within ${formatDelay(next.config.listenTimeoutMs)}; the old worker keeps serving`);
      stopWorkers(pass, [next], 'rollback');
      noteReplaceFailure(old, pass);
    }
  }
  // A reload or an operation replaces every worker anyway.
  if (app.reload || app.op) return;
  for (const worker of [...app.workers]) {
    if (worker.generation !== app.generation || !isUp(worker) || worker.replaces !== null || pass.now < worker.replaceAfter) continue;
    const reason = replaceReason(worker, pass.now);
    if (reason === null || app.workers.some((w) => w.replaces === worker.key)) continue;
    // Recycling is routine: one at a time per app, so capacity drops by at most the one draining.
    if (reason.kind === 'requests' && app.workers.some((w) => w.replaces !== null)) continue;
    if (isSingleton(app)) {
      replaceStopFirst(app, worker, reason, pass);
      continue;
    }
    if (budget(app) <= 0) continue;
    // A worker past its memory limit or hung is a problem (warn); one past maxRequests is routine (info).
    worker.log[reason.kind === 'requests' ? 'info' : 'warn']({ event: 'worker.replace', reason: reason.text, kind: reason.kind }, `${label(worker)}: ${reason.text}; starting a replacement, then draining it`);
    forkWorker(pass, app, worker.config, worker.slot, worker.generation, { upBy: pass.now + worker.config.listenTimeoutMs, replaces: worker.key, purpose: 'replace' });
  }
}

// A singleton's replacement: drain it, and its slot forks again once it has exited (fillSlots, through budget()).
function replaceStopFirst(app: AppModel, worker: WorkerModel, reason: ReplaceReason, pass: Pass): void {
  worker.log[reason.kind === 'requests' ? 'info' : 'warn'](
    { event: 'worker.replace', reason: reason.text, kind: reason.kind, singleton: true },
    `${label(worker)}: ${reason.text}; singleton: draining it first, then starting the new one`,
  );
  if (reason.kind === 'requests') app.counters.recycledRequests++;
  stopWorkers(pass, [worker], 'replaced');
  const slot = app.slots[worker.slot];
  if (slot) slot.retryAt = pass.now;
}

/** Count a failed replacement; the next attempt waits like a restart would. */
export function noteReplaceFailure(old: WorkerModel, pass: Pass): void {
  old.replaceFailures++;
  // One doubling ahead of a restart's: the first retry waits 2 × restart.delay.
  old.replaceAfter = pass.now + nextDelay(old.replaceFailures + 1, old.config.restart);
}

/** When the worker's heartbeat deadline passes (it is then replaced as hung); null without heartbeatTimeout. */
export function heartbeatDeadline(worker: WorkerModel): number | null {
  const timeout = worker.config.heartbeatTimeoutMs;
  if (timeout === null || worker.upAt === null) return null;
  return (worker.lastHeartbeat ?? worker.upAt) + timeout + 1;
}

/** Why this worker should be replaced now, or null. */
function replaceReason(worker: WorkerModel, now: number): ReplaceReason | null {
  const limit = worker.config.maxMemoryBytes;
  if (limit !== null && worker.rssBytes !== null && worker.rssBytes > limit) {
    return { kind: 'memory', text: `memory ${formatBytes(worker.rssBytes)} is above maxMemory ${formatBytes(limit)}` };
  }
  const deadline = heartbeatDeadline(worker);
  if (deadline !== null && now >= deadline) {
    const silentMs = now - (worker.lastHeartbeat ?? worker.upAt!);
    return { kind: 'hung', text: `hung: its event loop has been blocked for ${formatDelay(silentMs)} (heartbeatTimeout ${formatDelay(worker.config.heartbeatTimeoutMs!)})` };
  }
  if (servedLimit(worker)) {
    const jitter = worker.requestLimit! - worker.config.maxRequests!;
    return { kind: 'requests', text: `served ${worker.requests} requests (maxRequests ${worker.config.maxRequests}${jitter > 0 ? ` + jitter ${jitter}` : ''})` };
  }
  return null;
}

// The worker reached its maxRequests limit (its count stays there: level-triggered, so a failed replacement is retried).
function servedLimit(worker: WorkerModel): boolean {
  return worker.requestLimit !== null && worker.requests !== null && worker.requests >= worker.requestLimit;
}

function formatBytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
