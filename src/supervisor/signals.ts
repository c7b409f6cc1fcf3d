// Process signals of the primary. Handlers only enqueue events: no decisions here.
import type { Logger } from '../log/logger.ts';
import type { Supervisor } from './supervisor.ts';

/** Install the primary's signal handlers; returns a function that removes them. */
export function installSignals(supervisor: Supervisor, logger: Logger): () => void {
  const handlers: Partial<Record<NodeJS.Signals, () => void>> = {
    SIGTERM: () => supervisor.enqueue({ type: 'stop', source: 'SIGTERM' }),
    SIGINT: () => supervisor.enqueue({ type: 'stop', source: 'SIGINT' }),
    // Without a handler SIGHUP would kill the primary (and so every worker).
    SIGHUP: () => logger.warn({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: rolling reload is not available in this version; ignored'),
  };
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
  };
}
