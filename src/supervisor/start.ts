// Public entry to run a supervisor in this process (the CLI's `start`, and the library API).
import type { ResolvedConfig } from '../config/define.ts';
import { UnsupportedRuntimeError } from '../errors.ts';
import { createLogging } from '../log/logger.ts';
import { installSignals } from './signals.ts';
import { Supervisor } from './supervisor.ts';

/** A running supervisor; `done` resolves with the exit code after a stop, logs flushed. */
export interface RunningSupervisor {
  supervisor: Supervisor;
  done: Promise<number>;
}

/** Start supervising `config` in this process, with signal handling. */
export async function startSupervisor(config: ResolvedConfig): Promise<RunningSupervisor> {
  checkRuntime(config);
  const { logger, output } = createLogging();
  const supervisor = new Supervisor({ config, logger, output });
  const removeSignals = installSignals(supervisor, logger);
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
  const done = supervisor.done.then((code) => {
    removeSignals();
    output.flush();
    return code;
  });
  return { supervisor, done };
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
