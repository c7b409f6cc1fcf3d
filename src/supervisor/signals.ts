// Process signals of the primary. Handlers only hand the signal on: no decisions here.
import type { Logger } from '../log/logger.ts';
import type { ReloadController } from './reload.ts';
import type { Supervisor } from './supervisor.ts';

/** Install the primary's signal handlers; returns a function that removes them. */
export function installSignals(deps: { supervisor: Supervisor; reloads: ReloadController; logger: Logger }): () => void {
  const { supervisor, reloads, logger } = deps;
  const scaleAll = (delta: number, signal: string) => {
    for (const name of supervisor.apps.keys()) {
      void supervisor.appOp(name, 'scale', { delta }).then((result) => {
        if (!result.ok) logger.warn({ event: 'signal', signal, app: name }, `${signal}: ${result.message}`);
      });
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
    SIGUSR2: () => supervisor.enqueue({ type: 'reopen-logs' }),
  };
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
  };
}
