// Public entry to run a supervisor in this process (the CLI's `start`, and the library API).
import type { ResolvedConfig } from '../config/define.ts';
import { UnsupportedRuntimeError } from '../errors.ts';
import { createLogging } from '../log/logger.ts';
import { watchApp, type AppWatcher } from '../watch/watcher.ts';
import { ReloadController, type ConfigSource } from './reload.ts';
import { installSignals } from './signals.ts';
import { Supervisor } from './supervisor.ts';

/** A running supervisor; `done` resolves with the exit code after a stop, logs flushed. */
export interface RunningSupervisor {
  supervisor: Supervisor;
  reloads: ReloadController;
  done: Promise<number>;
}

/** Start supervising `config` in this process, with signal handling and file watching. */
export async function startSupervisor(config: ResolvedConfig, options: { loadConfig?: ConfigSource } = {}): Promise<RunningSupervisor> {
  checkRuntime(config);
  const { logger, output } = createLogging();
  const supervisor = new Supervisor({ config, logger, output });
  const reloads = new ReloadController({ supervisor, logger, loadConfig: options.loadConfig ?? (async () => config) });
  const removeSignals = installSignals(supervisor, reloads, logger);
  logger.info(
    { event: 'supervisor.start', pid: process.pid, node: process.version, config: config.file, apps: config.apps.map((a) => a.name) },
    `nsup ${process.version} supervising ${config.apps.map((a) => a.name).join(', ')}${config.file ? ` from ${config.file}` : ''}`,
  );
  process.on('uncaughtException', (error) => {
    logger.fatal({ event: 'supervisor.error', err: error }, `nsup crashed: ${error.stack ?? error.message}`);
    output.flush();
    process.exit(1);
  });
  supervisor.start();
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
  const done = supervisor.done.then(async (code) => {
    removeSignals();
    await Promise.all(watchers.map((w) => w.close()));
    output.flush();
    return code;
  });
  return { supervisor, reloads, done };
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
