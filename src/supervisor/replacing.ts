// Replacing one worker through the rolling path (new one up first, then drain the old one), for
// workers above maxMemory and workers whose event loop stopped beating (heartbeatTimeout).
import { formatDelay } from './backoff.ts';
import type { Core } from './core.ts';
import { label, type WorkerRecord } from './records.ts';
/** Replace a live worker through the rolling path: a new one first, then drain the old one. */
export function replaceWorker(core: Core, record: WorkerRecord, reason: string): boolean {
  const { app } = record;
  if (core.isStopping || app.pending || app.reload || record.stopReason !== null || !core.isUpRecord(record)) return false;
  if (app.records.some((r) => r.replaces?.key === record.key)) return false;
  record.log.warn({ event: 'worker.replace', reason }, `${label(record)}: ${reason}; starting a replacement, then draining it`);
  const next = core.fork(app, record.config, record.slot, record.generation);
  next.replaces = { key: record.key, reason };
  const key = next.key;
  next.listenTimer = setTimeout(() => core.enqueue({ type: 'listen-timeout', key }), record.config.listenTimeoutMs);
  return true;
}

/** Check every worker against its memory limit (RSS from the sampler); replace those above it. */
export function checkMemory(core: Core, rssOf: (pid: number) => number | null): void {
  for (const app of core.apps.values()) {
    const limit = app.config.maxMemoryBytes;
    if (limit === null) continue;
    for (const record of [...app.records]) {
      const rss = record.pid === null ? null : rssOf(record.pid);
      if (rss !== null && rss > limit) replaceWorker(core, record, `memory ${formatBytes(rss)} is above maxMemory ${formatBytes(limit)}`);
    }
  }
}

/** Replace every up worker whose event loop has not beaten for its app's heartbeatTimeout. */
export function checkHeartbeats(core: Core, now = Date.now()): void {
  for (const app of core.apps.values()) {
    for (const record of [...app.records]) {
      const timeout = record.config.heartbeatTimeoutMs;
      if (timeout === null || !core.isUpRecord(record) || record.stopReason !== null) continue;
      const silentMs = now - (record.lastHeartbeat ?? record.forkedAt);
      if (silentMs > timeout) {
        replaceWorker(core, record, `hung: its event loop has been blocked for ${formatDelay(silentMs)} (heartbeatTimeout ${formatDelay(timeout)})`);
      }
    }
  }
}

export function replacementTookOver(core: Core, record: WorkerRecord): boolean {
  return record.replaces !== null && !core.hasRecord(record.replaces.key);
}

function formatBytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

