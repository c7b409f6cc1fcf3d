// Public entry to run a supervisor in this process (the CLI's `start`, and the library API):
// logging, control socket, signals, file watchers, usage sampling, around the Supervisor.
import { NSUP_VERSION } from '../version.ts';
import type { ResolvedConfig } from '../config/define.ts';
import { configWarningLogger } from '../config/pm2.ts';
import { liveSupervisors, request } from '../control/client.ts';
import { createHandlers } from '../control/handlers.ts';
import { snapshot } from '../control/snapshot.ts';
import { ensureRuntimeDir, socketPath } from '../control/runtime-dir.ts';
import { ControlServer } from '../control/server.ts';
import type { SupervisorStatus } from '../control/types.ts';
import { AlreadyRunningError, UnsupportedRuntimeError } from '../errors.ts';
import { fileLedger } from '../jobs/ledger.ts';
import { processJobRunner } from '../jobs/runner.ts';
import { createLogging, type Logger } from '../log/logger.ts';
import type { MetricsServer } from '../metrics/server.ts';
import { UsageSampler } from '../metrics/usage.ts';
import { createNotifier } from '../systemd/notify.ts';
import type { AppWatcher } from '../watch/watcher.ts';
import { clusterSpawner } from '../worker/spawn.ts';
import { removeStaleSockets } from '../worker/stale-sockets.ts';
import type { AppOpResult, ReloadResult } from './model.ts';
import { PrimaryHooks } from './primary-hooks.ts';
import { ReloadController, type ConfigSource } from './reload.ts';
import { installSignals } from './signals.ts';
import { Supervisor } from './supervisor.ts';

/** A running supervisor, as a library user sees it: a read-only status and the operations the CLI has. */
export interface RunningSupervisor {
  /** Path of this supervisor's control socket. */
  readonly socket: string;
  /** Resolves with the exit code once the supervisor stopped and its logs are flushed. */
  readonly done: Promise<number>;
  /** The `nsup status --json` document of this supervisor. */
  status(): SupervisorStatus;
  /** Resolves true once every slot of these apps (default: all) has a worker up; false after `timeoutMs`. */
  whenUp(apps?: string[] | 'all', timeoutMs?: number): Promise<boolean>;
  /** Rolling reload (the config is read again); one result per app. */
  reload(apps?: string[] | 'all'): Promise<ReloadResult[]>;
  /** Set an app's worker count. */
  scale(app: string, to: number): Promise<AppOpResult>;
  /** Stop every worker of an app, then start it again (not zero-downtime). */
  restart(app: string): Promise<AppOpResult>;
  /** Drain every worker and stop, like SIGTERM; resolves with the exit code. */
  stop(): Promise<number>;
}

/** How to run: where reloads get their config, and whether this is a detached daemon. */
export interface StartOptions {
  loadConfig?: ConfigSource;
  /** Daemon mode: logs go to `<app>.log` files in the runtime dir (or each app's logFile) instead of stdout. */
  daemon?: boolean;
}

// How often worker CPU and memory are sampled for `nsup status` and maxMemory.
const USAGE_INTERVAL_MS = 2000;
// Exceptions outside the event queue (a stream callback, a listener) are logged and contained; this
// many within the window mean the primary is in a bad way: drain the workers and exit 1.
const FATAL_BURST = { count: 5, windowMs: 10_000 };

/** Start supervising `config` in this process. */
export async function startSupervisor(config: ResolvedConfig, options: StartOptions = {}): Promise<RunningSupervisor> {
  checkRuntime(config);
  const dir = ensureRuntimeDir();
  await refuseDuplicates(config);
  const { logger, output } = createLogging({ apps: config.apps, ...(options.daemon ? { daemonDir: dir } : {}) });
  const spawner = clusterSpawner(output, logger);
  // Jobs run as the primary's own children; the ledger (runtime dir) remembers each job's last tick for the missed-while-down report.
  const ledger = fileLedger(dir, logger);
  const jobRunner = processJobRunner({ output, logger, ledger });
  const supervisor = new Supervisor({ config, logger, output, spawner, jobRunner, lastTicks: ledger.lastTicks() });
  // systemd Type=notify: READY=1 only once every worker is up, RELOADING=1/READY=1 around
  // reloads, STOPPING=1 when a stop begins. A no-op without NOTIFY_SOCKET.
  const notifier = createNotifier(process.env, { onError: (message) => logger.warn({ event: 'systemd.notify-failed' }, message) });
  // The apps' primary hooks (primary-hooks.ts): loaded below, before the first fork; not part of the core.
  const hooks = new PrimaryHooks(logger);
  const source = options.loadConfig ?? (async () => config);
  const warnConfig = configWarningLogger(logger);
  const upCount = () => [...supervisor.apps.values()].map((a) => `${a.config.name} ${a.state}`).join(', ');
  const reloads = new ReloadController({
    supervisor,
    logger,
    // A reload re-reads the file: a PM2 ecosystem file's new warnings are logged then.
    loadConfig: async () => warnConfig(await source()),
    prepare: (apps) => {
      // A reload does not reload hooks: a changed `primary` only gets a warning that it takes a restart.
      hooks.warnIfChanged({ file: config.file, apps: [...apps], metrics: config.metrics });
      // Log format, time and files take effect with the reload (the new workers' lines and the old ones' last).
      output.configure(apps);
    },
    onBusy: (busy) => void (busy ? notifier.reloading(`reloading: ${upCount()}`) : notifier.ready(upCount())),
  });
  // recycle: a rolling reload on a schedule onto the serving config (it refreshes the processes; it does not deploy file edits).
  supervisor.onRecycle((app, pattern) => void reloads.request([app.name], `recycle (${pattern})`, new Map([[app.name, app.config]])));
  const usage = new UsageSampler();
  const status = () => snapshot(supervisor, usage, { config: config.file, mode: options.daemon ? 'daemon' : 'foreground' }, hooks);
  const control = new ControlServer({ path: socketPath(dir, process.pid), logger, handlers: createHandlers({ supervisor, reloads, output, status }) });
  await control.listen();
  const removeSignals = installSignals({ supervisor, reloads, logger });
  logger.info(
    { event: 'supervisor.start', version: NSUP_VERSION, pid: process.pid, node: process.version, config: config.file, apps: config.apps.map((a) => a.name), socket: socketPath(dir, process.pid) },
    `nsup ${NSUP_VERSION} on Node ${process.version} (pid ${process.pid}) supervising ${config.apps.map((a) => a.name).join(', ')}${config.file ? ` from ${config.file}` : ''}`,
  );
  warnConfig(config);
  const removeContainment = containErrors(supervisor, logger, hooks);
  if (notifier.enabled) {
    void supervisor.whenUp('all').then((up) => {
      if (up) void notifier.ready(`every worker up: ${upCount()}`);
    });
    supervisor.onStopping(() => void notifier.stopping('draining workers'));
    supervisor.onAppState(() => void notifier.status(upCount()));
  }
  // A socket file left by a killed supervisor would fail every worker's listen on that path (EADDRINUSE).
  const removeStaleHook = removeStaleSockets({
    removed: (path) => logger.warn({ event: 'socket.stale-removed', path }, `removed stale unix socket ${path} (nobody listened on it; left by a process that was killed?) before binding it for a worker`),
    failed: (path, error) => logger.warn({ event: 'socket.stale-remove-failed', path, err: error }, `cannot remove stale unix socket ${path}: ${error.message}; the workers' listen there will fail: remove it by hand`),
  });
  // Code an app runs in the primary is in place before its first worker forks (their failures are logged, never fatal).
  await hooks.install(config.apps);
  supervisor.start();
  // The sampler's figures go through the queue like every other input: maxMemory decisions are the core's.
  const sampler = setInterval(() => {
    const pids = [...supervisor.apps.values()].flatMap((app) => app.workers.map((w) => w.pid)).filter((pid): pid is number => pid !== null);
    usage.sample(pids);
    supervisor.enqueue({ type: 'usage', rssByPid: new Map(pids.map((pid) => [pid, usage.get(pid).rssBytes])) });
  }, USAGE_INTERVAL_MS).unref();
  // chokidar is loaded only when an app watches files.
  const watchers = config.apps.some((app) => app.watch) ? await startWatchers(config, reloads, logger) : [];
  let metrics: MetricsServer | null = null;
  if (config.metrics) {
    try {
      // prom-client is loaded only when metrics are on.
      const { startMetricsServer } = await import('../metrics/server.ts');
      metrics = await startMetricsServer({ ...config.metrics, supervisor, usage, logger, dashboard: config.metrics.dashboard ? { reloads, status, runtimeDir: dir } : null });
    } catch (error) {
      logger.error(
        { event: 'metrics.error', err: error },
        `cannot serve metrics on ${config.metrics.host}:${config.metrics.port}: ${(error as Error).message}. The apps keep running; fix metrics.port (or --metrics-port) and restart nsup.`,
      );
    }
  }
  const done = supervisor.done.then(async (code) => {
    // What the workers spawned is stopped too: the primary exits only once it is gone (bounded by killTimeout).
    await Promise.all([spawner.settle(), jobRunner.settle()]);
    // Once the workers are gone: a hook's dispose may close what they used (its own port, a connection).
    await hooks.dispose();
    removeStaleHook();
    removeSignals();
    clearInterval(sampler);
    await Promise.all([control.close(), metrics?.close(), ...watchers.map((w) => w.close())]);
    await Promise.race([notifier.flush(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    removeContainment();
    await output.close();
    return code;
  });
  return {
    socket: socketPath(dir, process.pid),
    done,
    status,
    whenUp: (apps = 'all', timeoutMs) => supervisor.whenUp(apps, timeoutMs),
    reload: (apps = 'all') => reloads.request(apps, 'API'),
    scale: (app, to) => supervisor.appOp(app, 'scale', { to }),
    restart: (app) => supervisor.appOp(app, 'restart'),
    stop: () => {
      supervisor.enqueue({ type: 'stop', source: 'API' });
      return done;
    },
  };
}

/**
 * Log exceptions that escape everything else as supervisor errors; a burst of them is fatal (drain, exit 1).
 * One whose stack names a primary hook's file is that hook's: logged as its error and never counted.
 */
function containErrors(supervisor: Supervisor, logger: Logger, hooks: PrimaryHooks): () => void {
  const recent: number[] = [];
  const onError = (error: unknown, origin: 'uncaughtException' | 'unhandledRejection') => {
    if (hooks.claim(error, origin)) return;
    logger.error({ event: 'supervisor.error', where: origin, err: error }, `nsup error (${origin}), contained; supervising goes on: ${error instanceof Error ? error.message : String(error)}`);
    const now = Date.now();
    recent.push(now);
    while (recent.length > 0 && recent[0]! < now - FATAL_BURST.windowMs) recent.shift();
    if (recent.length >= FATAL_BURST.count) supervisor.fail(error, `${recent.length} uncaught errors within ${FATAL_BURST.windowMs / 1000}s`);
  };
  const onException = (error: Error) => onError(error, 'uncaughtException');
  const onRejection = (reason: unknown) => onError(reason, 'unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

/** One watcher per app with `watch`; a burst of changes becomes one reload request. */
async function startWatchers(config: ResolvedConfig, reloads: ReloadController, logger: Logger): Promise<AppWatcher[]> {
  const { describeWatchError, watchApp } = await import('../watch/watcher.ts');
  const watchers: AppWatcher[] = [];
  for (const app of config.apps) {
    const watcher = watchApp(app, (paths) => {
      const shown = paths.slice(0, 3).join(', ') + (paths.length > 3 ? ` and ${paths.length - 3} more` : '');
      logger.info({ event: 'watch.change', app: app.name, paths }, `${app.name}: files changed (${shown}): reloading`);
      void reloads.request([app.name], 'file change');
    }, (error) => logger.warn({ event: 'watch.error', app: app.name, code: (error as NodeJS.ErrnoException).code, err: error }, describeWatchError(app.name, error)));
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
