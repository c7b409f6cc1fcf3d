// The status snapshot of one supervisor (the `nsup status --json` contract).
import type { Supervisor } from '../supervisor/supervisor.ts';
import type { UsageSampler } from '../metrics/usage.ts';
import { displayState, slotWorkers } from '../supervisor/model.ts';
import { notUpReason } from '../supervisor/readiness.ts';
import type { AppStatus, PrimaryHookStatus, SupervisorStatus, WorkerStatus } from './types.ts';

// A worker gets a second to come up before status explains why it is not.
const NOT_UP_QUIET_MS = 1000;

/** Facts about the supervisor process that the table does not know. */
export interface SnapshotMeta {
  config: string | null;
  mode: 'foreground' | 'daemon';
}

/** Where each app's primary hooks stand (supervisor/primary-hooks.ts; outside the core's table). */
export interface HookRegistry {
  status(app: string): PrimaryHookStatus[];
}

/** Build the status of every app and worker of `supervisor` (CPU and memory as last sampled). */
export function snapshot(supervisor: Supervisor, usage: UsageSampler, meta: SnapshotMeta, hooks?: HookRegistry): SupervisorStatus {
  const now = Date.now();
  const apps: AppStatus[] = [...supervisor.apps.values()].map((app) => {
    const workers: WorkerStatus[] = app.workers.map((w) => {
      const u = w.pid === null ? { rssBytes: null, cpuPercent: null } : usage.get(w.pid);
      return {
        id: w.slot,
        pid: w.pid,
        state: displayState(w),
        generation: w.generation,
        restarts: app.slots[w.slot]?.restarts ?? 0,
        uptimeMs: now - w.forkedAt,
        rssBytes: u.rssBytes,
        cpuPercent: u.cpuPercent,
        up: w.upAt !== null,
        addresses: [...w.addresses],
        notUpReason: w.upAt === null && w.stopReason === null && now - w.forkedAt >= NOT_UP_QUIET_MS ? notUpReason(app, w, now) : null,
        connections: w.connections && { ...w.connections },
      };
    });
    // A slot in backoff has no process: it shows as `waiting` until its restart.
    app.slots.forEach((slot, id) => {
      if (slot.retryAt !== null && !slot.halted && slotWorkers(app, id).length === 0) {
        workers.push({ id, pid: null, state: 'waiting', generation: app.generation, restarts: slot.restarts, uptimeMs: 0, rssBytes: null, cpuPercent: null, up: false, addresses: [], notUpReason: null, connections: null });
      }
    });
    return {
      name: app.config.name,
      state: app.state,
      desired: app.config.instances,
      generation: app.generation,
      readyWhen: app.config.readyWhen,
      script: app.config.script,
      lastFailure: app.lastFailure,
      lastReload: app.lastReload ? { ok: app.lastReload.ok, generation: app.lastReload.generation, durationMs: app.lastReload.durationMs, ...(app.lastReload.reason ? { reason: app.lastReload.reason } : {}) } : null,
      workers: workers.sort((a, b) => a.id - b.id || a.generation - b.generation),
      primaryHooks: hooks?.status(app.config.name) ?? [],
    };
  });
  return { pid: process.pid, startedAt: supervisor.startedAt.toISOString(), node: process.version, config: meta.config, mode: meta.mode, apps };
}
