// Starts worker processes: the Spawner interface the core forks through (a fake one in tests),
// and the real one, a node:cluster worker running the user's script, unmodified, preceded by nsup's
// worker runtime (graceful drain, the nsup/worker API), its output forwarded line by line.
import cluster, { type Worker } from 'node:cluster';
import { resolve } from 'node:path';
import type { ResolvedApp } from '../config/define.ts';
import type { Logger, Output } from '../log/logger.ts';
import { forwardWorkerOutput } from '../log/worker-output.ts';
import { isReadyMessage } from '../ipc/protocol.ts';
import type { ChildProcess } from 'node:child_process';
import { gateConnections } from './connection-router.ts';
import { rescueHandoffs } from './handoffs.ts';
import { StickyRouter } from './sticky-router.ts';
import { TOKEN_VAR, TreeReaper } from './descendants.ts';
import { WORKER_PRELOAD } from '../paths.ts';

// How long an exit waits for the worker's output to be read to the end (the crash report needs
// the last stderr lines); a grandchild holding the pipes open must not hold the exit back.
const OUTPUT_FLUSH_MS = 200;

/** What a new worker needs to know about itself. */
export interface SpawnRequest {
  app: ResolvedApp;
  slot: number;
  generation: number;
  /** Sticky apps: the worker that should take a connection from `ip` on `port` (null: the one round-robin chose). */
  route?: (ip: string, port: number | null) => SpawnedWorker | null;
  /** maxRequests: how many requests this worker serves before asking to be recycled (null/absent: no counting at all). */
  requestLimit?: number | null;
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
  /** Resolves once the leftovers of exited workers are gone (the processes they spawned; descendants.ts). */
  settle(): Promise<void>;
}

/** The real spawner: node:cluster workers whose output lines go to `output` as records. */
export function clusterSpawner(output: Output, logger?: Logger): Spawner {
  // Whatever a worker spawned is stopped after the worker exits (SIGTERM, SIGKILL after killTimeout).
  const trees = new TreeReaper();
  let sticky: StickyRouter | null = null;
  return {
    settle: () => trees.settle(),
    fork(request, sink) {
      const token = trees.token();
      const worker = forkCluster(request, token);
      const { app, slot, generation } = request;
      const pid = worker.process.pid;
      if (pid !== undefined) trees.track(pid);
      const forwarded = forwardWorkerOutput({
        stdout: worker.process.stdout,
        stderr: worker.process.stderr,
        source: { app: app.name, slot, pid, generation },
        output,
      });
      worker.on('online', () => sink.online());
      worker.on('listening', (address) => sink.listening(formatAddress(address, app.cwd)));
      // A connection on its way to a worker that dies goes to another one (handoffs.ts). First: the
      // gate below wraps the same send, and the hand-offs it declines itself never reach the worker.
      rescueHandoffs(worker.process);
      // readyWhen 'ready': no connection reaches the worker before it calls ready().
      const gate = app.readyWhen === 'ready' ? gateConnections(worker.process) : null;
      // sticky: each connection goes to the worker its client's address maps to (sticky-router.ts).
      const route = request.route;
      if (route) (sticky ??= new StickyRouter()).watch(worker.process, (ip, port) => processOf(route(ip, port)));
      worker.prependListener('message', (message) => { // before node's re-emit on cluster, which a primary hook's throwing listener cuts short
        if (gate && isReadyMessage(message)) gate.open();
        sink.message(message);
      });
      worker.on('error', (error) => sink.error(error));
      worker.once('exit', (code, signal) => {
        if (pid !== undefined) void trees.reap(pid, token, app.killTimeoutMs, (kill, pids) => logLeftovers(logger, app.name, pid, kill, pids, app.killTimeoutMs));
        const bound = new Promise((resolve) => setTimeout(resolve, OUTPUT_FLUSH_MS).unref());
        void Promise.race([forwarded.closed, bound]).then(() => sink.exit(code, signal, [...forwarded.stderrTail]));
      });
      const handle: SpawnedWorker = {
        pid: worker.process.pid ?? null,
        connected: () => worker.isConnected(),
        send: (message) => {
          if (!worker.isConnected()) return false;
          // Once a drain is asked the tree is recorded: a child that scrubbed its env is found by its ppid.
          if (pid !== undefined && (message as { type?: unknown } | null)?.type === 'shutdown') trees.snapshot(pid);
          // worker.send() also returns false when its backlog is full (and still delivers), so only a
          // closed channel counts as not sent; send errors surface on the worker's 'error' event.
          worker.send(message as never);
          return true;
        },
        kill: (signal) => {
          if (pid !== undefined) trees.snapshot(pid);
          worker.process.kill(signal);
        },
      };
      processes.set(handle, worker.process);
      return handle;
    },
  };
}

// The process behind each worker handle this spawner made (a sticky route names a handle).
const processes = new WeakMap<SpawnedWorker, ChildProcess>();

function processOf(handle: SpawnedWorker | null): ChildProcess | null {
  return handle ? (processes.get(handle) ?? null) : null;
}

/** Fork a worker with NSUP_APP, NSUP_WORKER_ID and the app's instanceVar (the stable slot) in its env, above the app's env (cluster.fork puts the supervisor's env below both). */
function forkCluster({ app, slot, generation, requestLimit }: SpawnRequest, token: string): Worker {
  // setupPrimary settings apply to the next fork only; several apps share the one cluster module.
  cluster.setupPrimary({
    exec: app.script,
    args: app.args,
    execArgv: [...app.nodeArgs, '--require', WORKER_PRELOAD],
    cwd: app.cwd,
    silent: true,
    serialization: app.serialization,
  });
  return cluster.fork({
    ...app.env,
    ...slotVars(app, slot),
    NSUP_APP: app.name,
    NSUP_WORKER_ID: String(slot),
    NSUP_GENERATION: String(generation),
    // Inherited by everything the worker spawns: how its leftovers are found after it exits.
    [TOKEN_VAR]: token,
    NSUP_KILL_TIMEOUT: String(app.killTimeoutMs),
    NSUP_KILL_SIGNAL: app.killSignal,
    // Node removes NODE_CHANNEL_SERIALIZATION_MODE before user code runs; the worker's size and type checks need it.
    NSUP_SERIALIZATION: app.serialization,
    // Only the primary talks to systemd (READY=1 once every worker is up); an app with its own
    // sd_notify library must not announce readiness early under NotifyAccess=all.
    NOTIFY_SOCKET: undefined,
    NSUP_HEARTBEAT_MS: app.heartbeatTimeoutMs === null ? undefined : String(heartbeatInterval(app.heartbeatTimeoutMs)),
    // Only set when maxRequests is: without it the worker adds nothing per request (requests.ts).
    NSUP_MAX_REQUESTS: requestLimit != null && requestLimit > 0 ? String(requestLimit) : undefined,
  });
}

/** The variables that differ per slot: instanceVar (the slot; PM2's instance_var) and incrementVar (base + slot; PM2's increment_var). */
export function slotVars(app: Pick<ResolvedApp, 'instanceVar' | 'incrementVar'>, slot: number): Record<string, string> {
  const vars: Record<string, string> = { [app.instanceVar]: String(slot) };
  if (app.incrementVar) vars[app.incrementVar.name] = String(app.incrementVar.base + slot);
  return vars;
}

/** One log line per round of signals to a worker's leftovers. */
function logLeftovers(logger: Logger | undefined, app: string, pid: number, signal: 'SIGTERM' | 'SIGKILL', pids: number[], killTimeoutMs: number): void {
  const what = `${pids.length} process${pids.length === 1 ? '' : 'es'} (pid ${pids.join(', ')})`;
  const message = signal === 'SIGTERM'
    ? `${app}: worker pid ${pid} exited and left ${what} running: SIGTERM`
    : `${app}: ${what} left by worker pid ${pid} still running ${killTimeoutMs}ms after SIGTERM (killTimeout): SIGKILL`;
  logger?.[signal === 'SIGTERM' ? 'info' : 'warn']({ event: 'worker.leftovers', app, pid, signal, pids }, message);
}

/** How often a worker reports its event loop alive: a few beats per heartbeatTimeout. */
export function heartbeatInterval(timeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4)));
}

/** ':3000' (any host), 'host:3000', or a unix socket's absolute path (cluster reports those as addressType -1). */
export function formatAddress(address: { address?: string | null; port?: number; addressType?: number | string }, cwd: string): string {
  if (address.addressType === -1 && typeof address.address === 'string') return resolve(cwd, address.address);
  const host = address.address && address.address !== '::' && address.address !== '0.0.0.0' ? address.address : '';
  return `${host}:${address.port ?? '?'}`;
}
