// The status snapshot of one supervisor (the `nsup status --json` contract).
import type { Supervisor } from '../supervisor/supervisor.ts';
import type { UsageSampler } from '../metrics/usage.ts';
import type { AppStatus, SupervisorStatus } from './types.ts';

/** Facts about the supervisor process that the table does not know. */
export interface SnapshotMeta {
  config: string | null;
  mode: 'foreground' | 'daemon';
}

/** Build the status of every app and worker of `supervisor` (CPU and memory as last sampled). */
export function snapshot(supervisor: Supervisor, usage: UsageSampler, meta: SnapshotMeta): SupervisorStatus {
  const now = Date.now();
  const apps: AppStatus[] = [...supervisor.apps.values()].map((app) => ({
    name: app.config.name,
    state: app.state,
    desired: app.config.instances,
    generation: app.generation,
    script: app.config.script,
    lastFailure: app.lastFailure,
    lastReload: app.lastReload ? { ok: app.lastReload.ok, generation: app.lastReload.generation, durationMs: app.lastReload.durationMs, ...(app.lastReload.reason ? { reason: app.lastReload.reason } : {}) } : null,
    workers: app.records
      .map((r) => {
        const u = r.pid === null ? { rssBytes: null, cpuPercent: null } : usage.get(r.pid);
        return {
          id: r.slot,
          pid: r.pid,
          state: r.state,
          generation: r.generation,
          restarts: app.slots[r.slot]?.restarts ?? 0,
          uptimeMs: r.forkedAt ? now - r.forkedAt : 0,
          rssBytes: u.rssBytes,
          cpuPercent: u.cpuPercent,
        };
      })
      .sort((a, b) => a.id - b.id || a.generation - b.generation),
  }));
  return { pid: process.pid, startedAt: supervisor.startedAt.toISOString(), node: process.version, config: meta.config, mode: meta.mode, apps };
}
