// The status snapshot of one supervisor (the `nsup status --json` contract).
import type { AppView, Supervisor } from '../supervisor/supervisor.ts';
import type { UsageSampler } from '../metrics/usage.ts';
import { coveredSlots, displayState } from '../supervisor/model.ts';
import { notUpReason } from '../supervisor/readiness.ts';
import { jobsStatus, recycleStatus } from './snapshot-jobs.ts';
import type { AppStatus, GenerationStatus, PrimaryHookStatus, SupervisorStatus, WorkerStatus } from './types.ts';

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
        cwd: w.release?.cwd ?? null,
        scriptPath: w.release?.script ?? null,
        exitCode: null,
        requests: w.requests ?? null,
        maxRequests: w.requestLimit ?? null,
        live: w.live && { ...w.live, eventLoopDelayMs: { ...w.live.eventLoopDelayMs } },
      };
    });
    // A slot in backoff has no process: it shows as `waiting` until its restart; a done one as `done`.
    const covered = coveredSlots(app);
    app.slots.forEach((slot, id) => {
      if (slot.halted || covered.has(id)) return;
      const state = slot.doneWith !== null ? 'done' : slot.retryAt !== null ? 'waiting' : null;
      if (state === null) return;
      workers.push({ id, pid: null, state, generation: app.generation, restarts: slot.restarts, uptimeMs: 0, rssBytes: null, cpuPercent: null, up: false, addresses: [], notUpReason: null, connections: null, cwd: null, scriptPath: null, exitCode: slot.doneWith, live: null });
    });
    return {
      name: app.config.name,
      state: app.state,
      desired: app.config.instances,
      generation: app.generation,
      readyWhen: app.config.readyWhen,
      script: app.config.script,
      cwd: app.config.cwd,
      generations: generations(app),
      lastFailure: app.lastFailure,
      lastReload: app.lastReload ? { ok: app.lastReload.ok, generation: app.lastReload.generation, durationMs: app.lastReload.durationMs, ...(app.lastReload.reason ? { reason: app.lastReload.reason } : {}) } : null,
      reloads: app.reloads.map((r) => ({ generation: r.generation, trigger: r.trigger, startedAt: new Date(r.startedAt).toISOString(), durationMs: r.durationMs, ok: r.ok, ...(r.reason ? { reason: r.reason } : {}) })),
      workers: workers.sort((a, b) => a.id - b.id || a.generation - b.generation),
      primaryHooks: hooks?.status(app.config.name) ?? [],
      limits: limitsOf(app.config),
      singleton: app.config.singleton,
      jobs: jobsStatus(app.scheduled),
      recycle: recycleStatus(app.scheduled),
    };
  });
  return { pid: process.pid, startedAt: supervisor.startedAt.toISOString(), node: process.version, config: meta.config, mode: meta.mode, apps };
}

// Each generation with workers and the release it runs from. Keyed by generation and real path:
// a worker restarted after `current` was flipped (a crash before the reload) runs the new target
// in the old generation, and shows up as a second entry of that generation rather than hidden.
function generations(app: AppView): GenerationStatus[] {
  const entries = new Map<string, GenerationStatus>();
  for (const w of app.workers) {
    if (w.release === null) continue;
    const key = `${w.generation}\0${w.release.cwd}\0${w.release.script}`;
    const entry = entries.get(key);
    if (entry) {
      entry.workers++;
      continue;
    }
    const role = w.generation === app.generation ? 'serving' : w.generation > app.generation ? 'incoming' : 'retiring';
    entries.set(key, { generation: w.generation, cwd: w.release.cwd, script: w.release.script, workers: 1, role });
  }
  return [...entries.values()].sort((a, b) => a.generation - b.generation || a.cwd.localeCompare(b.cwd));
}

// What the app's limits resolved to (a PM2 file's max_memory_restart, kill_timeout, … included);
// JSON has no Infinity, so an unlimited maxRestarts is null.
function limitsOf(config: AppView['config']): NonNullable<AppStatus['limits']> {
  const r = config.restart;
  return {
    maxMemoryBytes: config.maxMemoryBytes,
    killTimeoutMs: config.killTimeoutMs,
    listenTimeoutMs: config.listenTimeoutMs,
    restart: { delayMs: r.delayMs, maxDelayMs: r.maxDelayMs, minUptimeMs: r.minUptimeMs, maxRestarts: Number.isFinite(r.maxRestarts) ? r.maxRestarts : null, stopExitCodes: [...r.stopExitCodes] },
    maxRequests: config.maxRequests,
    maxRequestsJitter: config.maxRequestsJitter,
  };
}
