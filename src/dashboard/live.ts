// The dashboard's live feed: once a second one status document is built, its figures go into
// the 15-minute history, and every open page gets it over server-sent events (the whole history
// first, on connect). One timer for every page; nothing runs per page between ticks.
import type http from 'node:http';
import type { SupervisorStatus } from '../control/types.ts';
import type { Logger } from '../log/logger.ts';
import { History, sampleStatus, type AppSample } from './history.ts';

/** What the feed reads each tick. */
export interface LiveFeedOptions {
  status: () => SupervisorStatus;
  /** An app's crash restarts since start (the restarts chart). */
  restartsOf: (app: string) => number;
  logger: Logger;
  intervalMs?: number;
  /** Samples kept (default 900: 15 minutes at one a second). */
  capacity?: number;
}

/** One tick as the page gets it: the status document and the sample just added to the history. */
export interface LiveMessage {
  status: SupervisorStatus;
  sample: { t: number; apps: Record<string, AppSample> };
}

// A page that stopped reading (a suspended laptop's tab) is dropped past this much unsent data,
// instead of holding the primary's memory; EventSource reconnects by itself when it wakes.
const MAX_BUFFERED_BYTES = 1 << 20;
// Open pages are bounded too: each costs a socket and a write a second.
const MAX_CLIENTS = 32;

/** The sampler and the server-sent-event clients of one dashboard. */
export class LiveFeed {
  readonly history: History;
  private readonly clients = new Set<http.ServerResponse>();
  private readonly timer: NodeJS.Timeout;
  private last: LiveMessage | null = null;
  private readonly opts: LiveFeedOptions;

  constructor(opts: LiveFeedOptions) {
    this.opts = opts;
    const interval = opts.intervalMs ?? 1000;
    this.history = new History(opts.capacity, interval);
    this.tick();
    this.timer = setInterval(() => this.tick(), interval).unref();
  }

  /** The latest tick (the one the page starts from). */
  latest(): LiveMessage {
    return this.last ?? this.tick();
  }

  /** Answer an EventSource request: the history and the latest status now, then one `status` event a second. */
  subscribe(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.clients.size >= MAX_CLIENTS) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '10' });
      res.end(`too many open dashboards (${MAX_CLIENTS}); close one\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // retry: a page whose connection dropped (nsup restarting) tries again every 2 s.
    res.write(`retry: 2000\nevent: history\ndata: ${JSON.stringify(this.history.toJSON())}\n\n`);
    res.write(frame('status', this.latest()));
    this.clients.add(res);
    const drop = () => this.clients.delete(res);
    req.once('close', drop);
    res.once('close', drop);
  }

  /** Stop the timer and end every open stream. */
  close(): void {
    clearInterval(this.timer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  // Contained: a throw in a timer callback would be an uncaught exception in the primary.
  private tick(): LiveMessage {
    try {
      const now = Date.now();
      const status = this.opts.status();
      const samples = sampleStatus(status, this.opts.restartsOf);
      this.history.record(now, samples);
      this.last = { status, sample: { t: now / 1000, apps: Object.fromEntries(samples) } };
      if (this.clients.size > 0) {
        const data = frame('status', this.last);
        for (const res of this.clients) {
          if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
          else res.write(data);
        }
      }
    } catch (error) {
      this.opts.logger.error({ event: 'dashboard.error', err: error }, `dashboard: sampling the status failed: ${(error as Error).message}; the charts miss this second (please report it). The apps keep running.`);
    }
    return this.last ?? { status: this.opts.status(), sample: { t: Date.now() / 1000, apps: {} } };
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
