// nsup's metric families for each worker's live figures (WorkerModel.live and .connections, as
// the worker last reported them, once a second), read from the core's table at scrape time.
// Registered on nsup's own registry (server.ts).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Supervisor, WorkerView } from '../supervisor/supervisor.ts';

// Prometheus's summary convention for a quantile gauge; quantile="1" is the maximum (as Go's
// go_gc_duration_seconds does).
const QUANTILES = [['0.5', 'p50'], ['0.99', 'p99'], ['1', 'max']] as const;

/** Add nsup_worker_requests_total, _requests_in_flight, _connections, _event_loop_delay_seconds and _event_loop_utilization to `register`. */
export function registerLiveMetrics(register: Registry, supervisor: Supervisor): void {
  const labelNames = ['app', 'worker', 'generation'];
  // Live workers that reported at least once.
  const reporting = () =>
    [...supervisor.apps.values()].flatMap((app) =>
      app.workers.filter((w) => w.pid !== null).map((w) => ({ w, labels: { app: app.config.name, worker: String(w.slot), generation: String(w.generation) } })),
    );
  const gauge = (name: string, help: string, extra: string[], collect: (g: Gauge, w: WorkerView, labels: Record<string, string>) => void) =>
    new Gauge({ name, help, labelNames: [...labelNames, ...extra], registers: [register], collect() { this.reset(); for (const { w, labels } of reporting()) collect(this, w, labels); } });

  new Counter({
    name: 'nsup_worker_requests_total',
    help: 'Requests each worker served since it started (HTTP requests, WebSocket upgrades and event streams; connections on a plain TCP server).',
    labelNames,
    registers: [register],
    collect() {
      this.reset();
      for (const { w, labels } of reporting()) if (w.live) this.inc(labels, w.live.requests);
    },
  });
  gauge('nsup_worker_requests_in_flight', 'HTTP requests each worker is serving right now (event streams excluded).', [], (g, w, labels) => {
    if (w.connections) g.set(labels, w.connections.inFlight);
  });
  gauge('nsup_worker_connections', 'Open connections of each worker by kind: keepalive (HTTP, no request in progress), websocket, stream (text/event-stream).', ['kind'], (g, w, labels) => {
    if (!w.connections) return;
    g.set({ ...labels, kind: 'keepalive' }, w.connections.keepAlive);
    g.set({ ...labels, kind: 'websocket' }, w.connections.websocket);
    g.set({ ...labels, kind: 'stream' }, w.connections.stream);
  });
  gauge('nsup_worker_event_loop_delay_seconds', "How late each worker's event loop ran timers over its last second (quantile 1 is the maximum; sampled every 100 ms).", ['quantile'], (g, w, labels) => {
    if (!w.live) return;
    for (const [quantile, key] of QUANTILES) g.set({ ...labels, quantile }, w.live.eventLoopDelayMs[key] / 1000);
  });
  gauge('nsup_worker_event_loop_utilization', "Share of each worker's last second its event loop was busy (0..1).", [], (g, w, labels) => {
    if (w.live) g.set(labels, w.live.elu);
  });
}
