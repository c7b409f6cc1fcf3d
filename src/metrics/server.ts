// The primary's HTTP endpoints for monitoring: Prometheus /metrics (nsup's own families plus the
// workers' prom-client metrics aggregated cluster-wide), /healthz and /readyz.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Dashboard, DashboardDeps } from '../dashboard/routes.ts';
import type { Logger } from '../log/logger.ts';
import { displayState } from '../supervisor/model.ts';
import type { Supervisor } from '../supervisor/supervisor.ts';
import { registerJobMetrics } from './job-metrics.ts';
import { registerLiveMetrics } from './live-metrics.ts';
import type { UsageSampler } from './usage.ts';
import { WorkerMetrics } from './worker-metrics.ts';

// node:http through process.getBuiltinModule, never an ES import: that builds the module's
// namespace from every export, and the WebSocket/CloseEvent/MessageEvent getters load undici
// (about 13 MB of RSS and 25-130 ms in the primary, for nothing).

/** A running metrics server; close() is idempotent. */
export interface MetricsServer {
  port: number;
  close(): Promise<void>;
  /** @internal The http.Server itself, for tests that make it fail. */
  server: http.Server;
}

// /healthz fails when the primary's event loop was blocked this long (p99 of the last interval).
const MAX_LOOP_DELAY_MS = 1000;

/** Serve /metrics, /healthz and /readyz on host:port (and the dashboard at /, with `dashboard`). */
export async function startMetricsServer(opts: {
  port: number;
  host: string;
  supervisor: Supervisor;
  usage: UsageSampler;
  logger: Logger;
  /** Serve the dashboard (src/dashboard/) too: what it reads and acts on besides the supervisor. */
  dashboard?: Omit<DashboardDeps, 'supervisor' | 'logger' | 'host'> | null;
}): Promise<MetricsServer> {
  const { supervisor, usage, logger } = opts;
  const dashboard = opts.dashboard ? await startDashboard({ ...opts.dashboard, host: opts.host, supervisor, logger }) : null;
  const registry = nsupRegistry(supervisor, usage);
  const workers = new WorkerMetrics(supervisor);
  // /healthz looks for a p99 delay of a second: sampling every 100 ms sees that, and costs a
  // fifth of 20 ms' wake-ups in an idle primary (0.27 % of a core at 20 ms, measured by bench/scale.js).
  const loop = monitorEventLoopDelay({ resolution: 100 });
  loop.enable();
  // A path whose answer failed is logged once, and again only after it answered once: a
  // probe every few seconds must not turn one bug into a flood of identical lines.
  const failing = new Set<string>();
  const failed = (res: http.ServerResponse, path: string, error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (!failing.has(path)) {
      failing.add(path);
      logger.error(
        { event: 'metrics.error', path, err: error },
        `metrics: answering ${path} failed: ${message}; it answers 500 until this is fixed (please report it with this line). The apps keep running.`,
      );
    }
    answer(res, 500, 'text/plain', `${path} failed: ${message}\n`);
  };
  const ok = (res: http.ServerResponse, path: string, status: number, type: string, body: string) => {
    failing.delete(path);
    answer(res, status, type, body);
  };
  const handle = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => {
    if (dashboard?.handle(req, res, path)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') {
      void (async () => {
        const own = await registry.metrics();
        const fromWorkers = await workers.collect();
        const merged = fromWorkers.length > 0 ? (await AggregatorRegistry.aggregate(fromWorkers).metrics()) : '';
        ok(res, path, 200, registry.contentType, own + (merged ? `\n${merged}` : ''));
      })().catch((error: unknown) => failed(res, path, error));
      return;
    }
    if (path === '/healthz') {
      const p99 = loop.percentile(99) / 1e6;
      loop.reset();
      const healthy = p99 < MAX_LOOP_DELAY_MS;
      return ok(res, path, healthy ? 200 : 503, 'application/json', JSON.stringify({ status: healthy ? 'ok' : 'event loop blocked', eventLoopDelayP99Ms: Math.round(p99) }) + '\n');
    }
    if (path === '/readyz') {
      const ready = readiness(supervisor);
      return ok(res, path, ready.ok ? 200 : 503, 'application/json', JSON.stringify(ready) + '\n');
    }
    answer(res, 404, 'text/plain', `not found: try ${dashboard ? '/ (the dashboard), ' : ''}/metrics, /healthz or /readyz\n`);
  };
  // Malformed requests ('clientError') get no listener on purpose: Node's default answers 400
  // (431 for huge headers, 408 on timeout) when nothing was written yet, destroys the socket,
  // and logs nothing; a listener of ours could only do the same or worse.
  const server = process.getBuiltinModule('node:http').createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    // A throw here would escape the server's emit as an uncaught exception.
    try {
      handle(req, res, path);
    } catch (error) {
      failed(res, path, error);
    }
  });
  await new Promise<void>((resolve, reject) => {
    const failedToListen = (error: Error) => {
      dashboard?.close();
      reject(error);
    };
    server.once('error', failedToListen);
    server.listen(opts.port, opts.host, () => {
      server.off('error', failedToListen);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // After listening, an 'error' (an accept failure) would throw without a listener and take the
  // primary down; the apps do not need this endpoint, so log it and keep supervising.
  server.on('error', (error: NodeJS.ErrnoException) => {
    logger.error(
      { event: 'metrics.error', host: opts.host, port, code: error.code, err: error },
      `metrics server on ${opts.host}:${port} failed: ${error.message}. The apps keep running, but /metrics, /healthz and /readyz may not answer until nsup is restarted.`,
    );
  });
  server.unref();
  logger.info({ event: 'metrics.listening', host: opts.host, port }, `metrics and health on http://${opts.host}:${port}/metrics, /healthz, /readyz`);
  if (dashboard && opts.dashboard) {
    const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/`;
    logger.info(
      { event: 'dashboard.listening', host: opts.host, port, url, tokenFile: `${opts.dashboard.runtimeDir}/dashboard.token` },
      `dashboard on ${url} (read-only; reload and scale take the token in ${opts.dashboard.runtimeDir}/dashboard.token: open ${url}#token=<its contents>)`,
    );
  }
  let closing: Promise<void> | null = null;
  return {
    port,
    server,
    close: () => {
      loop.disable();
      dashboard?.close();
      server.closeAllConnections();
      closing ??= new Promise((resolve) => server.close(() => resolve()));
      return closing;
    },
  };
}

// The dashboard is loaded only when it is on; one that cannot start (an unsafe token file) is
// logged and left out: /metrics and the probes matter more than the page.
async function startDashboard(deps: DashboardDeps): Promise<Dashboard | null> {
  try {
    return (await import('../dashboard/routes.ts')).createDashboard(deps);
  } catch (error) {
    deps.logger.error({ event: 'dashboard.error', err: error }, `dashboard not served: ${(error as Error).message} /metrics, /healthz and /readyz are served as usual.`);
    return null;
  }
}

/** Ready = not stopping, and every app has a worker up in every slot (during a reload too). */
export function readiness(supervisor: Supervisor): { ok: boolean; reason?: string; apps: Record<string, string> } {
  const apps = Object.fromEntries([...supervisor.apps.values()].map((app) => [app.config.name, app.state]));
  if (supervisor.isStopping) return { ok: false, reason: 'stopping', apps };
  const notReady = [...supervisor.apps.values()].filter((app) => !['running', 'reloading'].includes(app.state));
  if (notReady.length === 0) return { ok: true, apps };
  return { ok: false, reason: notReady.map((app) => `${app.config.name} is ${app.state}${app.lastFailure ? ` (last exit: ${app.lastFailure.reason})` : ''}`).join('; '), apps };
}

/** nsup's own metric families, read from the supervisor at scrape time. */
function nsupRegistry(supervisor: Supervisor, usage: UsageSampler): Registry {
  const register = new Registry();
  // prom-client's event-loop-lag histogram samples every 10 ms by default: 0.54 % of a core in an
  // idle primary for a figure a scrape every 15 s or more reads. 100 ms keeps the histogram meaningful.
  collectDefaultMetrics({ register, prefix: 'nsup_primary_', eventLoopMonitoringPrecision: 100 });
  const apps = () => [...supervisor.apps.values()];
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [register], collect() { this.reset(); collect(this); } });
  const counter = (name: string, help: string, labelNames: string[], collect: (c: Counter) => void) =>
    new Counter({ name, help, labelNames, registers: [register], collect() { this.reset(); collect(this); } });
  const workers = () => apps().flatMap((app) => app.workers.filter((r) => r.pid !== null).map((r) => ({ app, r, labels: { app: app.config.name, worker: String(r.slot), generation: String(r.generation) } })));

  gauge('nsup_workers_desired', 'Workers each app should have.', ['app'], (g) => apps().forEach((a) => g.set({ app: a.config.name }, a.config.instances)));
  gauge('nsup_workers_up', "Slots with a worker up (by the app's readyWhen: listening on every address, ready() called, or running).", ['app'], (g) =>
    apps().forEach((a) => g.set({ app: a.config.name }, supervisor.upSlots(a).size)),
  );
  gauge('nsup_app_state', 'App state: 1 for the current one.', ['app', 'state'], (g) =>
    apps().forEach((a) => ['starting', 'running', 'reloading', 'crash-loop', 'errored', 'stopping', 'stopped'].forEach((state) => g.set({ app: a.config.name, state }, a.state === state ? 1 : 0))),
  );
  gauge('nsup_worker_state', 'Worker state: 1 for the current one.', ['app', 'worker', 'generation', 'state'], (g) =>
    workers().forEach(({ r, labels }) => g.set({ ...labels, state: displayState(r) }, 1)),
  );
  gauge('nsup_worker_restarts', 'Restarts of each worker slot (reset by a reload).', ['app', 'worker'], (g) =>
    apps().forEach((a) => a.slots.forEach((s, slot) => g.set({ app: a.config.name, worker: String(slot) }, s.restarts))),
  );
  counter('nsup_restarts_total', 'Crash restarts since the supervisor started.', ['app'], (c) => apps().forEach((a) => c.inc({ app: a.config.name }, a.counters.restarts)));
  counter('nsup_reloads_total', 'Rolling reloads since the supervisor started, by result.', ['app', 'result'], (c) =>
    apps().forEach((a) => {
      c.inc({ app: a.config.name, result: 'done' }, a.counters.reloadsDone);
      c.inc({ app: a.config.name, result: 'rolled_back' }, a.counters.reloadsRolledBack);
    }),
  );
  gauge('nsup_worker_rss_bytes', 'Resident memory of each worker.', ['app', 'worker', 'generation'], (g) =>
    workers().forEach(({ r, labels }) => {
      const rss = usage.get(r.pid!).rssBytes;
      if (rss !== null) g.set(labels, rss);
    }),
  );
  gauge('nsup_worker_cpu_percent', 'CPU of each worker over the last sampling interval (100 = one core).', ['app', 'worker', 'generation'], (g) =>
    workers().forEach(({ r, labels }) => {
      const cpu = usage.get(r.pid!).cpuPercent;
      if (cpu !== null) g.set(labels, cpu);
    }),
  );
  gauge('nsup_worker_uptime_seconds', 'Seconds since each worker was forked.', ['app', 'worker', 'generation'], (g) =>
    workers().forEach(({ r, labels }) => g.set(labels, (Date.now() - r.forkedAt) / 1000)),
  );
  counter('nsup_ipc_messages_relayed_total', 'Worker-to-worker messages relayed by the primary.', [], (c) => c.inc(supervisor.messagesRelayed));
  registerJobMetrics(register, supervisor);
  registerLiveMetrics(register, supervisor);
  return register;
}

// Never throws: a response whose headers already went out (a failure half-way) can only be cut off.
function answer(res: http.ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy();
    return;
  }
  try {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  } catch {
    res.destroy();
  }
}
