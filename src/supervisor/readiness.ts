// When a new worker counts as up, per the app's readyWhen, and what to say about one that is not
// up yet. Pure: reads the table, decides nothing else. A reload retires old workers only once the
// new ones are up, so "up" must mean "serves what the old ones served".
import { formatDelay } from './backoff.ts';
import type { WorkerModel } from './model.ts';

/** What readiness reads of a worker. */
type Worker = Pick<WorkerModel, 'generation' | 'addresses' | 'config' | 'lifecycle' | 'forkedAt'>;
/** What readiness reads of its app: the serving generation and its workers. */
type App = { readonly workers: readonly Worker[]; readonly generation: number };

/**
 * The addresses a worker must listen on (readyWhen 'listening'): the app's `listen` if given,
 * else every address that the app's workers of the serving generation listen on. A worker that
 * listens on an admin port first and its public port later is up only after both.
 */
export function requiredAddresses(app: App, worker: Worker): string[] {
  if (worker.config.listen.length > 0) return worker.config.listen;
  const union = new Set<string>();
  for (const w of app.workers) if (w.generation === app.generation) for (const address of w.addresses) union.add(address);
  return [...union];
}

/**
 * readyWhen 'online': a worker is up once its process has run this long without exiting (capped
 * at half the listenTimeout), so a deploy that crashes while loading its modules rolls back
 * instead of replacing every good worker (Kubernetes' minReadySeconds, in the small).
 */
export const ONLINE_GRACE_MS = 1000;

/** When an 'online' worker that runs counts as up. */
export function onlineUpAt(worker: Pick<WorkerModel, 'forkedAt' | 'config'>): number {
  return worker.forkedAt + Math.min(ONLINE_GRACE_MS, worker.config.listenTimeoutMs / 2);
}

/** Whether `worker` counts as up at `now`, by its config's readyWhen. */
export function isReadyNow(app: App, worker: Worker, now: number): boolean {
  switch (worker.config.readyWhen) {
    case 'online':
      return worker.lifecycle !== 'starting' && now >= onlineUpAt(worker);
    case 'ready':
      return worker.lifecycle === 'ready';
    case 'listening':
      return worker.addresses.length > 0 && missingAddresses(app, worker).length === 0;
  }
}

/** When a worker that is still not up (outside a reload) gets its slow-start warning. */
export function slowAt(worker: Pick<WorkerModel, 'forkedAt' | 'config'>): number {
  return worker.forkedAt + worker.config.listenTimeoutMs;
}

/** The required addresses this worker does not listen on yet. */
export function missingAddresses(app: App, worker: Worker): string[] {
  return requiredAddresses(app, worker).filter((address) => !worker.addresses.some((own) => sameAddress(own, address)));
}

/**
 * Why a worker that is not up yet is not: for status, the slow-start warning and a reload's
 * rollback reason ("online, has not listened after 10s: a worker without a server needs readyWhen 'online'").
 */
export function notUpReason(app: App, worker: Worker, now: number): string {
  const after = `after ${formatDelay(Math.max(0, now - worker.forkedAt))}`;
  if (worker.lifecycle === 'starting') return `has not started running ${after} (loading its modules?)`;
  switch (worker.config.readyWhen) {
    case 'online':
      return worker.lifecycle === 'online' ? `online, counts as up after running ${formatDelay(onlineUpAt(worker) - worker.forkedAt)}` : `not online ${after}`;
    case 'ready':
      return `has not called ready() ${after}${worker.addresses.length > 0 ? ` (it listens on ${worker.addresses.join(', ')}; with readyWhen 'ready' it gets no connections before ready())` : ''}`;
    case 'listening': {
      if (worker.addresses.length === 0) return `online, has not listened ${after}: a worker without a server needs readyWhen 'online'`;
      const missing = missingAddresses(app, worker);
      const source = worker.config.listen.length > 0 ? 'the addresses in listen' : 'its generation listens there';
      return `listens on ${worker.addresses.join(', ')}, not yet on ${missing.join(', ')} ${after} (${source}; set listen to choose the addresses that make a worker up)`;
    }
  }
}

/** Whether a recorded listen `own` serves `wanted`: ':3000' (any host) matches 'host:3000'; 'host:3000' only that host; paths exactly. */
export function sameAddress(own: string, wanted: string): boolean {
  if (own === wanted) return true;
  if (wanted.startsWith(':')) return !own.startsWith('/') && own.endsWith(wanted);
  return false;
}
