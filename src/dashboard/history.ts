// The dashboard's charts: the last 15 minutes of each app's figures, kept in the primary as a
// ring of fixed-size typed arrays sampled once a second. Memory is bounded whatever runs: the
// time column (900 × 8 bytes) plus 4 series × 900 × 8 bytes per app, about 29 KB an app.
import type { SupervisorStatus, WorkerStatus } from '../control/types.ts';

/** One app's figures at one sample: null where nothing is known yet (shown as a gap). */
export interface AppSample {
  /** Requests per second summed over its workers (WorkerStatus.live); null before any worker reported. */
  reqPerSec: number | null;
  /** Resident memory summed over its workers. */
  rssBytes: number | null;
  /** CPU summed over its workers (100 = one core). */
  cpuPercent: number | null;
  /** Crash restarts since the supervisor started (a counter: it only grows). */
  restarts: number;
}

/** The four charted series, in the order the page draws them. */
export const SERIES = ['reqPerSec', 'rssBytes', 'cpuPercent', 'restarts'] as const;
type Series = (typeof SERIES)[number];

/** The ring as JSON for the page: times in seconds (uPlot's x axis), one array per series per app, oldest first. */
export interface HistoryDocument {
  intervalMs: number;
  t: number[];
  apps: Record<string, Record<Series, Array<number | null>>>;
}

/** Default window: 15 minutes at one sample a second. */
export const HISTORY_SAMPLES = 900;

/** A fixed-capacity ring of samples per app; the oldest is overwritten. */
export class History {
  private readonly times: Float64Array;
  private readonly apps = new Map<string, Record<Series, Float64Array>>();
  // Index of the next write and how many slots hold a sample.
  private next = 0;
  private size = 0;

  readonly capacity: number;
  readonly intervalMs: number;

  constructor(capacity = HISTORY_SAMPLES, intervalMs = 1000) {
    this.capacity = capacity;
    this.intervalMs = intervalMs;
    this.times = new Float64Array(capacity);
  }

  /** Record one sample of every app at `timeMs`; an app first seen now has gaps before. */
  record(timeMs: number, samples: ReadonlyMap<string, AppSample>): void {
    const i = this.next;
    this.times[i] = timeMs;
    for (const [name, sample] of samples) {
      let series = this.apps.get(name);
      if (!series) {
        series = Object.fromEntries(SERIES.map((s) => [s, new Float64Array(this.capacity).fill(NaN)])) as Record<Series, Float64Array>;
        this.apps.set(name, series);
      }
      for (const s of SERIES) series[s][i] = sample[s] ?? NaN;
    }
    // An app that is gone (removed by a deploy) gets gaps, and leaves once its window is empty.
    for (const [name, series] of this.apps) {
      if (samples.has(name)) continue;
      for (const s of SERIES) series[s][i] = NaN;
      if (series.restarts.every(Number.isNaN)) this.apps.delete(name);
    }
    this.next = (i + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** The window, oldest first. */
  toJSON(): HistoryDocument {
    const order = Array.from({ length: this.size }, (_, k) => (this.next - this.size + k + this.capacity) % this.capacity);
    const value = (x: number) => (Number.isNaN(x) ? null : x);
    return {
      intervalMs: this.intervalMs,
      t: order.map((i) => this.times[i]! / 1000),
      apps: Object.fromEntries(
        [...this.apps].map(([name, series]) => [name, Object.fromEntries(SERIES.map((s) => [s, order.map((i) => value(series[s][i]!))])) as Record<Series, Array<number | null>>]),
      ),
    };
  }
}

/** Each app's sample from a status document and its restart counter. */
export function sampleStatus(status: SupervisorStatus, restartsOf: (app: string) => number): Map<string, AppSample> {
  const out = new Map<string, AppSample>();
  for (const app of status.apps) {
    const live = app.workers.filter((w) => w.pid !== null);
    out.set(app.name, {
      reqPerSec: sum(live.map((w) => liveOf(w)?.reqPerSec)),
      rssBytes: sum(live.map((w) => w.rssBytes)),
      cpuPercent: sum(live.map((w) => w.cpuPercent)),
      restarts: restartsOf(app.name),
    });
  }
  return out;
}

// The sum of what is known; null when nothing is (no worker reported that figure yet).
function sum(values: Array<number | null | undefined>): number | null {
  const known = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}

/** The worker runtime's live figures (the issue-15 contract: WorkerStatus.live), read structurally so the dashboard works with documents that lack them. */
export interface LiveFigures {
  requests: number;
  reqPerSec: number;
  elu: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

/** A worker's live figures, or null (before its first report, or from an nsup without them). */
export function liveOf(w: WorkerStatus): LiveFigures | null {
  return (w as WorkerStatus & { live?: LiveFigures | null }).live ?? null;
}
