// Starts worker processes: the Spawner interface the core forks through (a fake one in tests),
// and the real one, a node:cluster worker running the user's script, unmodified, preceded by nsup's
// worker runtime (graceful drain, the nsup/worker API), its output forwarded line by line.
import cluster, { type Worker } from 'node:cluster';
import type { ResolvedApp } from '../config/define.ts';
import type { Output } from '../log/logger.ts';
import { forwardWorkerOutput } from '../log/worker-output.ts';

/** The preload every worker gets before the user's script. */
const RUNTIME_URL = new URL('./runtime.js', import.meta.url).href;

// How long an exit waits for the worker's output to be read to the end (the crash report needs
// the last stderr lines); a grandchild holding the pipes open must not hold the exit back.
const OUTPUT_FLUSH_MS = 200;

/** What a new worker needs to know about itself. */
export interface SpawnRequest {
  app: ResolvedApp;
  slot: number;
  generation: number;
}

/** Where a spawned worker's events go (the supervisor enqueues each one). */
export interface WorkerSink {
  online(): void;
  listening(address: string): void;
  message(message: unknown): void;
  /** The process is gone and its output read (stderr: its last lines). */
  exit(code: number | null, signal: string | null, stderr: string[]): void;
  /** An IPC error (the channel broke while sending). */
  error(error: Error): void;
}

/** A running worker process, as the supervisor drives it. */
export interface SpawnedWorker {
  readonly pid: number | null;
  /** Whether the IPC channel is open. */
  connected(): boolean;
  /** Send over IPC; false when the channel is closed. */
  send(message: unknown): boolean;
  kill(signal: NodeJS.Signals): void;
}

/** Forks workers; fork() may throw (EAGAIN, ENOMEM): the supervisor counts that as a failed start. */
export interface Spawner {
  fork(request: SpawnRequest, sink: WorkerSink): SpawnedWorker;
}

/** The real spawner: node:cluster workers whose output goes to `output` as `[app:id] line`. */
export function clusterSpawner(output: Output): Spawner {
  return {
    fork(request, sink) {
      const worker = forkCluster(request);
      const { app, slot } = request;
      const forwarded = forwardWorkerOutput({
        stdout: worker.process.stdout,
        stderr: worker.process.stderr,
        app: app.name,
        prefix: `[${app.name}:${slot}]`,
        jsonLogs: app.jsonLogs,
        output,
      });
      worker.on('online', () => sink.online());
      worker.on('listening', (address) => sink.listening(formatAddress(address)));
      worker.on('message', (message) => sink.message(message));
      worker.on('error', (error) => sink.error(error));
      worker.once('exit', (code, signal) => {
        const bound = new Promise((resolve) => setTimeout(resolve, OUTPUT_FLUSH_MS).unref());
        void Promise.race([forwarded.closed, bound]).then(() => sink.exit(code, signal, [...forwarded.stderrTail]));
      });
      return {
        pid: worker.process.pid ?? null,
        connected: () => worker.isConnected(),
        send: (message) => {
          if (!worker.isConnected()) return false;
          // worker.send() also returns false when its backlog is full (and still delivers), so only a
          // closed channel counts as not sent; send errors surface on the worker's 'error' event.
          worker.send(message as never);
          return true;
        },
        kill: (signal) => void worker.process.kill(signal),
      };
    },
  };
}

/** Fork a worker with NSUP_APP, NSUP_WORKER_ID and NODE_APP_INSTANCE (the stable slot) in its env. */
function forkCluster({ app, slot, generation }: SpawnRequest): Worker {
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
    NSUP_KILL_SIGNAL: app.killSignal,
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

function formatAddress(address: { address?: string | null; port?: number; addressType?: number | string }): string {
  const host = address.address && address.address !== '::' && address.address !== '0.0.0.0' ? address.address : '';
  return `${host}:${address.port ?? '?'}`;
}
