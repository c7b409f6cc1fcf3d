// Forks one cluster worker for an app slot: the user's script, unmodified, preceded by nsup's
// worker runtime (graceful drain, the nsup/worker API).
import cluster, { type Worker } from 'node:cluster';
import type { ResolvedApp } from '../config/define.ts';

/** The preload every worker gets before the user's script. */
const RUNTIME_URL = new URL('./runtime.js', import.meta.url).href;

/** What a new worker needs to know about itself. */
export interface SpawnRequest {
  app: ResolvedApp;
  slot: number;
  generation: number;
}

/** Fork a worker with NSUP_APP, NSUP_WORKER_ID and NODE_APP_INSTANCE (the stable slot) in its env. */
export function spawnWorker({ app, slot, generation }: SpawnRequest): Worker {
  // setupPrimary settings apply to the next fork only; several apps share the one cluster module.
  cluster.setupPrimary({
    exec: app.script,
    args: app.args,
    execArgv: [...app.nodeArgs, '--import', RUNTIME_URL],
    cwd: app.cwd,
    silent: true,
    serialization: app.serialization,
  });
  return cluster.fork({
    ...app.env,
    NSUP_APP: app.name,
    NSUP_WORKER_ID: String(slot),
    NODE_APP_INSTANCE: String(slot),
    NSUP_GENERATION: String(generation),
    NSUP_KILL_TIMEOUT: String(app.killTimeoutMs),
    // Node removes NODE_CHANNEL_SERIALIZATION_MODE before user code runs; the worker's size and type checks need it.
    NSUP_SERIALIZATION: app.serialization,
    // Only the primary talks to systemd (READY=1 once every worker is up); an app with its own
    // sd_notify library must not announce readiness early under NotifyAccess=all.
    NOTIFY_SOCKET: undefined,
    NSUP_HEARTBEAT_MS: app.heartbeatTimeoutMs === null ? undefined : String(heartbeatInterval(app.heartbeatTimeoutMs)),
  });
}

/** How often a worker reports its event loop alive: a few beats per heartbeatTimeout. */
export function heartbeatInterval(timeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4)));
}
