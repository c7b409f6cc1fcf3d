// This worker's live figures for status, monit, the dashboard and /metrics: its request rate,
// event-loop utilisation and event-loop delay over the last report interval (report.ts sends them
// once a second). ELU is read from what libuv keeps anyway (idle time); nothing here runs per request.
//
// The delay histogram's timer is the one real cost (each wake-up of an idle process costs about
// 90 µs: 0.9 ms of CPU a second at 100 ms), so it runs only while the worker is busy: an interval
// with a request served or 1 % of the loop used turns it on for the next one, an idle interval off.
// An idle loop's delay is then the lateness of the report's own timer. A stall in an idle worker
// shows in its ELU at once, and in its delay from the next interval on.
import type { IntervalHistogram } from 'node:perf_hooks';
import type { LiveReport } from '../ipc/protocol.ts';
import { requestCount } from './requests.ts';

const { monitorEventLoopDelay, performance } = process.getBuiltinModule('node:perf_hooks');

/**
 * While busy the histogram's timer fires every RESOLUTION_MS: a loop blocked for 100 ms or more
 * always shows in p99/max; a shorter stall when it straddles a sample (the primary's /healthz
 * samples at the same rate).
 */
export const RESOLUTION_MS = 100;

// An interval that used this share of the loop (or served a request) counts as busy.
const BUSY_ELU = 0.01;
// Idle intervals in a row before the histogram stops: a worker served every few seconds keeps it.
const IDLE_OFF = 10;

type Elu = ReturnType<typeof performance.eventLoopUtilization>;

let histogram: IntervalHistogram | null = null;
let sampling = false;
let idleIntervals = 0;
let last: { at: number; requests: number; elu: Elu } = { at: 0, requests: 0, elu: { idle: 0, active: 0, utilization: 0 } };

/** Start measuring (once, busy: a worker that starts up is); the first sample() covers the time since. */
export function startLive(): void {
  if (histogram) return;
  histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  setSampling(true);
  last = { at: performance.now(), requests: requestCount(), elu: performance.eventLoopUtilization() };
}

/** The figures since the previous call, and start a new interval; `expectedMs`: when this call was due after the previous one (its timer's interval). */
export function sample(expectedMs: number): LiveReport {
  startLive();
  const now = performance.now();
  const requests = requestCount();
  const elu = performance.eventLoopUtilization();
  const h = histogram!;
  const seconds = (now - last.at) / 1000;
  const utilization = Math.min(1, Math.max(0, performance.eventLoopUtilization(elu, last.elu).utilization));
  let delay: LiveReport['eventLoopDelayMs'];
  if (sampling && h.count > 0) {
    // The histogram records the time between two of its timer's runs: the lateness is what goes beyond the resolution.
    const late = (ns: number) => round(Math.max(0, ns / 1e6 - RESOLUTION_MS), 2);
    delay = { p50: late(h.percentile(50)), p99: late(h.percentile(99)), max: late(h.max) };
  } else {
    // Not sampling (idle), or no sample fell in the interval (blocked all along): this call's own lateness.
    const late = round(Math.max(0, now - last.at - expectedMs), 2);
    delay = { p50: late, p99: late, max: late };
  }
  const figures: LiveReport = {
    reqPerSec: seconds > 0 ? round((requests - last.requests) / seconds, 1) : 0,
    elu: round(utilization, 4),
    eventLoopDelayMs: delay,
  };
  h.reset();
  idleIntervals = requests > last.requests || utilization >= BUSY_ELU ? 0 : idleIntervals + 1;
  setSampling(idleIntervals < IDLE_OFF);
  last = { at: now, requests, elu };
  return figures;
}

/** Whether the delay histogram runs now (busy), for tests and debugging. */
export function histogramOn(): boolean {
  return sampling;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function setSampling(on: boolean): void {
  if (on === sampling) return;
  sampling = on;
  if (on) histogram!.enable();
  else histogram!.disable();
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
