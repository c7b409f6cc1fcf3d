// Collects the workers' own prom-client metrics over cluster IPC, speaking prom-client's
// AggregatorRegistry protocol (a worker answers once its app created an AggregatorRegistry).
// The primary never instantiates AggregatorRegistry itself: its listener would choke on replies
// to requests it did not send. For the same reason the replies to nsup's requests are kept off
// `cluster`'s 'message' event, where a primary hook's AggregatorRegistry listens (issue 12).
import cluster from 'node:cluster';
import type { Supervisor, WorkerView } from '../supervisor/supervisor.ts';

const REQUEST = 'prom-client:getMetricsReq';
const RESPONSE = 'prom-client:getMetricsRes';
// How long a scrape waits for workers that answered before (or were never asked).
const WAIT_MS = 1000;
// nsup's request ids start here, far from prom-client's own counter (0, 1, 2, …).
const FIRST_ID = 1_000_000_000;

type MetricsJson = unknown[];

/** Asks every live worker for its metrics; resolves with what answered in time. */
export class WorkerMetrics {
  private readonly supervisor: Supervisor;
  // A worker that did not answer once (no prom-client in it) is still asked, but not waited for.
  private readonly silent = new Set<number>();
  private readonly pending = new Map<number, { waiting: Set<number>; responses: MetricsJson[]; done: () => void }>();
  // Far from prom-client's own counter, so replies cannot be mistaken for each other.
  private nextId = FIRST_ID;

  constructor(supervisor: Supervisor) {
    this.supervisor = supervisor;
    hideOwnReplies();
    supervisor.onForeignMessage((record, message) => this.onMessage(record, message));
  }

  /** Every live worker's `registry.getMetricsAsJSON()` results, flattened per worker. */
  collect(): Promise<MetricsJson[]> {
    const requestId = this.nextId++;
    const workers = [...this.supervisor.apps.values()].flatMap((app) => app.workers).filter((w) => w.pid !== null);
    // Exited workers leave the set: reloads would grow it for good.
    const live = new Set(workers.map((w) => w.pid));
    for (const pid of this.silent) if (!live.has(pid)) this.silent.delete(pid);
    return new Promise((resolve) => {
      const entry = { waiting: new Set<number>(), responses: [] as MetricsJson[], done: () => {} };
      const finish = () => {
        clearTimeout(timer);
        this.pending.delete(requestId);
        for (const pid of entry.waiting) this.silent.add(pid);
        resolve(entry.responses);
      };
      entry.done = finish;
      const timer = setTimeout(finish, WAIT_MS);
      this.pending.set(requestId, entry);
      for (const worker of workers) {
        if (!this.supervisor.sendTo(worker.key, { type: REQUEST, requestId })) continue;
        if (!this.silent.has(worker.pid!)) entry.waiting.add(worker.pid!);
      }
      if (entry.waiting.size === 0) setTimeout(finish, 50);
    });
  }

  private onMessage(record: WorkerView, message: unknown): void {
    const m = message as { type?: unknown; requestId?: unknown; metrics?: unknown };
    if (m?.type !== RESPONSE || typeof m.requestId !== 'number') return;
    const entry = this.pending.get(m.requestId);
    if (!entry || record.pid === null) return;
    this.silent.delete(record.pid);
    if (Array.isArray(m.metrics)) entry.responses.push(...(m.metrics as MetricsJson[]));
    entry.waiting.delete(record.pid);
    if (entry.waiting.size === 0) entry.done();
  }
}

let hiding = false;

/**
 * Node re-emits every worker message on `cluster` ('message'). An AggregatorRegistry that a primary
 * hook created listens there and throws on a reply whose requestId it did not send (prom-client
 * lib/cluster.js: `requests.get(id)` is undefined), once per worker and scrape, which would be an
 * uncaught error of the primary's. nsup's replies reach WorkerMetrics through the worker's own
 * 'message' event (spawn.ts); on `cluster` they are dropped. Everything else is emitted as sent.
 */
function hideOwnReplies(): void {
  if (hiding) return;
  hiding = true;
  const emit = cluster.emit;
  cluster.emit = function (this: typeof cluster, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message' && isOwnReply(args[1])) return false;
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as typeof cluster.emit;
}

function isOwnReply(message: unknown): boolean {
  const m = message as { type?: unknown; requestId?: unknown } | null;
  return m?.type === RESPONSE && typeof m.requestId === 'number' && m.requestId >= FIRST_ID;
}
