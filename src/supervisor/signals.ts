// Process signals of the primary. Handlers only hand the signal on: no decisions here.
import type { Logger } from '../log/logger.ts';
import type { ReloadController } from './reload.ts';
import type { Supervisor } from './supervisor.ts';

/** Install the primary's signal handlers; returns a function that removes them. */
export function installSignals(supervisor: Supervisor, reloads: ReloadController, logger: Logger): () => void {
  const handlers: Partial<Record<NodeJS.Signals, () => void>> = {
    SIGTERM: () => supervisor.enqueue({ type: 'stop', source: 'SIGTERM' }),
    SIGINT: () => supervisor.enqueue({ type: 'stop', source: 'SIGINT' }),
    SIGHUP: () => {
      logger.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: rolling reload of every app');
      void reloads.request('all', 'SIGHUP');
    },
  };
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
  };
}
