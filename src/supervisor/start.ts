// Public entry to run a supervisor in this process (the CLI's `start`, and the library API):
// logging, control socket, signals, file watchers, usage sampling, around the Supervisor.
import type { ResolvedConfig } from '../config/define.ts';
import { liveSupervisors, request } from '../control/client.ts';
import { createHandlers } from '../control/handlers.ts';
import { ensureRuntimeDir, socketPath } from '../control/runtime-dir.ts';
import { ControlServer } from '../control/server.ts';
import type { SupervisorStatus } from '../control/types.ts';
import { AlreadyRunningError, UnsupportedRuntimeError } from '../errors.ts';
import { createLogging } from '../log/logger.ts';
import type { MetricsServer } from '../metrics/server.ts';
import { UsageSampler } from '../metrics/usage.ts';
import { createNotifier } from '../systemd/notify.ts';
import type { AppWatcher } from '../watch/watcher.ts';
import { ReloadController, type ConfigSource } from './reload.ts';
import { installSignals } from './signals.ts';
import { Supervisor } from './supervisor.ts';

/** A running supervisor; `done` resolves with the exit code after a stop, logs flushed. */
export interface RunningSupervisor {
  supervisor: Supervisor;
  reloads: ReloadController;
  /** Path of this supervisor's control socket. */
  socket: string;
  done: Promise<number>;
}

/** How to run: where reloads get their config, and whether this is a detached daemon. */
export interface StartOptions {
  loadConfig?: ConfigSource;
  /** Daemon mode: logs go to `<app>.log` files in the runtime dir instead of stdout. */
  daemon?: boolean;
  /** Daemon mode: rotate a log file past this size. */
  maxLogBytes?: number | null;
}

// How often worker CPU and memory are sampled for `nsup status`.
const USAGE_INTERVAL_MS = 2000;

/** Start supervising `config` in this process. */
export async function startSupervisor(config: ResolvedConfig, options: StartOptions = {}): Promise<RunningSupervisor> {
  checkRuntime(config);
  const dir = ensureRuntimeDir();
  await refuseDuplicates(config);
  const { logger, output } = createLogging(options.daemon ? { daemonDir: dir, maxLogBytes: options.maxLogBytes ?? null } : {});
  const supervisor = new Supervisor({ config, logger, output });
  // systemd Type=notify: READY=1 only once every worker is up, RELOADING=1/READY=1 around
  // reloads, STOPPING=1 when a stop begins. A no-op without NOTIFY_SOCKET.
  const notifier = createNotifier(process.env, { onError: (message) => logger.warn({ event: 'systemd.notify-failed' }, message) });
  const upCount = () => [...supervisor.apps.values()].map((a) => `${a.config.name} ${a.state}`).join(', ');
  const reloads = new ReloadController({
    supervisor,
    logger,
    loadConfig: options.loadConfig ?? (async () => config),
    onBusy: (busy) => void (busy ? notifier.reloading(`reloading: ${upCount()}`) : notifier.ready(upCount())),
  });
  const usage = new UsageSampler();
  const control = new ControlServer({
    path: socketPath(dir, process.pid),
    logger,
    handlers: createHandlers({ supervisor, reloads, output, usage, meta: { config: config.file, mode: options.daemon ? 'daemon' : 'foreground' } }),
  });
  await control.listen();
  const removeSignals = installSignals({ supervisor, reloads, output, logger });
  logger.info(
    { event: 'supervisor.start', pid: process.pid, node: process.version, config: config.file, apps: config.apps.map((a) => a.name), socket: socketPath(dir, process.pid) },
    `nsup ${process.version} (pid ${process.pid}) supervising ${config.apps.map((a) => a.name).join(', ')}${config.file ? ` from ${config.file}` : ''}`,
  );
  process.on('uncaughtException', (error) => {
    logger.fatal({ event: 'supervisor.error', err: error }, `nsup crashed: ${error.stack ?? error.message}`);
    output.flush();
    process.exit(1);
  });
  supervisor.start();
  if (notifier.enabled) {
    void supervisor.whenUp('all', Infinity).then((up) => {
      if (up) void notifier.ready(`every worker up: ${upCount()}`);
    });
    void supervisor.until(() => supervisor.isStopping, Infinity).then(() => notifier.stopping('draining workers'));
    supervisor.onAppState(() => void notifier.status(upCount()));
  }
  const sampler = setInterval(() => {
    const pids = [...supervisor.apps.values()].flatMap((app) => app.records.map((r) => r.pid)).filter((pid): pid is number => pid !== null);
    usage.sample(pids);
    supervisor.checkMemory((pid) => usage.get(pid).rssBytes);
  }, USAGE_INTERVAL_MS).unref();
  const heartbeatMs = Math.min(...config.apps.map((a) => a.heartbeatTimeoutMs ?? Infinity));
  const heartbeats = Number.isFinite(heartbeatMs) ? setInterval(() => supervisor.checkHeartbeats(), Math.max(100, Math.min(1000, heartbeatMs / 4))).unref() : null;
  // chokidar is loaded only when an app watches files.
  const watchers = config.apps.some((app) => app.watch) ? await startWatchers(config, reloads, logger) : [];
  let metrics: MetricsServer | null = null;
  if (config.metrics) {
    try {
      // prom-client is loaded only when metrics are on.
      const { startMetricsServer } = await import('../metrics/server.ts');
      metrics = await startMetricsServer({ ...config.metrics, supervisor, usage, logger });
    } catch (error) {
      logger.error(
        { event: 'metrics.error', err: error },
        `cannot serve metrics on ${config.metrics.host}:${config.metrics.port}: ${(error as Error).message}. The apps keep running; fix metrics.port (or --metrics-port) and restart nsup.`,
      );
    }
  }
  const done = supervisor.done.then(async (code) => {
    removeSignals();
    clearInterval(sampler);
    if (heartbeats) clearInterval(heartbeats);
    await Promise.all([control.close(), metrics?.close(), ...watchers.map((w) => w.close())]);
    await Promise.race([notifier.flush(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    output.flush();
    return code;
  });
  return { supervisor, reloads, socket: socketPath(dir, process.pid), done };
}

/** One watcher per app with `watch`; a burst of changes becomes one reload request. */
async function startWatchers(config: ResolvedConfig, reloads: ReloadController, logger: import('../log/logger.ts').Logger): Promise<AppWatcher[]> {
  const { watchApp } = await import('../watch/watcher.ts');
  const watchers: AppWatcher[] = [];
  for (const app of config.apps) {
    const watcher = watchApp(app, (paths) => {
      const shown = paths.slice(0, 3).join(', ') + (paths.length > 3 ? ` and ${paths.length - 3} more` : '');
      logger.info({ event: 'watch.change', app: app.name, paths }, `${app.name}: files changed (${shown}): reloading`);
      void reloads.request([app.name], 'file change');
    });
    if (!watcher) continue;
    watchers.push(watcher);
    void watcher.ready.then(() =>
      logger.info({ event: 'watch.ready', app: app.name, paths: app.watch?.paths }, `${app.name}: watching ${app.watch?.paths.join(', ')} for changes`),
    );
  }
  return watchers;
}

/** An app name may run under one supervisor only. */
async function refuseDuplicates(config: ResolvedConfig): Promise<void> {
  const names = new Set(config.apps.map((app) => app.name));
  for (const live of await liveSupervisors()) {
    if (live.pid === process.pid) continue;
    const status = (await request(live.path, 'status', {}, { timeoutMs: 3000 }).catch(() => null)) as SupervisorStatus | null;
    const clash = status?.apps.find((app) => names.has(app.name));
    if (clash) {
      throw new AlreadyRunningError(
        `app '${clash.name}' is already running under nsup supervisor ${live.pid}${status?.config ? ` (${status.config})` : ''}. Stop it first (nsup stop ${clash.name}), or start this one under another name (-n).`,
      );
    }
  }
}

/** A .ts app needs a Node that strips types (or a loader in nodeArgs). */
function checkRuntime(config: ResolvedConfig): void {
  for (const app of config.apps) {
    if (!/\.[mc]?ts$/.test(app.script)) continue;
    const hasLoader = app.nodeArgs.some((arg) => /^--(import|require|loader|experimental-loader)\b|^-r$/.test(arg));
    const noStrip = app.nodeArgs.includes('--no-experimental-strip-types');
    if (hasLoader || (process.features.typescript && !noStrip)) continue;
    throw new UnsupportedRuntimeError(
      `Cannot run TypeScript app ${app.script}: Node ${process.version} does not strip types${noStrip ? ' (--no-experimental-strip-types is set)' : ''}. ` +
        `Use Node >= 22.18, or add a loader: nodeArgs: ['--import', 'tsx'] (npm install tsx), or run the compiled .js file.`,
    );
  }
}
