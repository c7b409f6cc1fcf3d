// Process signals of the primary. Handlers only hand the signal on: no decisions here.
import type { Logger, Output } from '../log/logger.ts';
import type { ReloadController } from './reload.ts';
import type { Supervisor } from './supervisor.ts';

/** Install the primary's signal handlers; returns a function that removes them. */
export function installSignals(deps: { supervisor: Supervisor; reloads: ReloadController; output: Output; logger: Logger }): () => void {
  const { supervisor, reloads, output, logger } = deps;
  const scaleAll = (delta: number, signal: string) => {
    for (const app of supervisor.apps.values()) {
      const to = app.config.instances + delta;
      if (to >= 1) void supervisor.appOp(app.config.name, 'scale', to);
      else logger.warn({ event: 'signal', signal, app: app.config.name }, `${signal}: ${app.config.name} keeps its last worker (use nsup stop to stop it)`);
    }
  };
  const handlers: Partial<Record<NodeJS.Signals, () => void>> = {
    SIGTERM: () => supervisor.enqueue({ type: 'stop', source: 'SIGTERM' }),
    SIGINT: () => supervisor.enqueue({ type: 'stop', source: 'SIGINT' }),
    SIGHUP: () => {
      logger.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: rolling reload of every app');
      void reloads.request('all', 'SIGHUP');
    },
    SIGTTIN: () => scaleAll(+1, 'SIGTTIN'),
    SIGTTOU: () => scaleAll(-1, 'SIGTTOU'),
    SIGUSR2: () => {
      output.reopen();
      logger.info({ event: 'signal', signal: 'SIGUSR2' }, 'SIGUSR2: log files reopened');
    },
  };
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
  };
}
