// This worker's report to the primary, once a second: its open connections by kind, the requests
// it served, and its live figures (live.ts: request rate, event-loop utilisation and delay). The
// connection counts are read from what Node keeps anyway (each HTTP server's list of connections,
// the response each one serves): nothing runs per request or connection for them.
import { NSUP_IPC, type ConnectionsMessage, type LiveReport } from '../ipc/protocol.ts';
import { httpConnectionCount, liveResponses } from './connections.ts';
import { sample, startLive } from './live.ts';
import { requestCount } from './requests.ts';
import { isEventStream } from './sse.ts';
import { upgraded } from './websockets.ts';

// Once a second: status, monit and the dashboard show figures at most about a second old.
const REPORT_MS = 1000;

/** The counts right now. */
export function connectionCounts(): Omit<ConnectionsMessage, 'nsup' | 'type' | 'live'> {
  let responses = 0;
  let stream = 0;
  for (const response of liveResponses()) {
    responses++;
    if (isEventStream(response)) stream++;
  }
  return {
    inFlight: responses - stream,
    // Open HTTP connections without a request in progress (an upgraded one is no longer HTTP).
    keepAlive: Math.max(0, httpConnectionCount() - responses),
    websocket: upgraded.size,
    stream,
    requests: requestCount(),
  };
}

/**
 * Check once a second and send `connections` with the live figures when they changed: the counts,
 * the request rate, ELU by 0.01 or a delay by 1 ms (an idle worker sends nothing, and costs the
 * primary nothing). Never keeps the worker alive.
 */
export function reportConnections(): void {
  startLive();
  let lastSent: ConnectionsMessage | null = null;
  setInterval(() => {
    // Sampled even when the channel is closed, so the next report covers one interval, not several.
    const live = sample(REPORT_MS);
    if (!process.connected) return;
    const message: ConnectionsMessage = { nsup: NSUP_IPC, type: 'connections', ...connectionCounts(), live };
    if (lastSent && !changed(lastSent, message)) return;
    lastSent = message;
    process.send?.(message);
  }, REPORT_MS).unref();
}

// ---------------------------------------------------------------------------------------------
// Helpers

// Whether `next` says something `prev` did not: counts exactly, ELU and delays past what a person reads.
function changed(prev: ConnectionsMessage, next: ConnectionsMessage): boolean {
  if (prev.inFlight !== next.inFlight || prev.keepAlive !== next.keepAlive || prev.websocket !== next.websocket || prev.stream !== next.stream || prev.requests !== next.requests) return true;
  const a = prev.live!;
  const b = next.live!;
  if (a.reqPerSec !== b.reqPerSec || Math.abs(a.elu - b.elu) >= 0.01) return true;
  const d = (key: keyof LiveReport['eventLoopDelayMs']) => Math.abs(a.eventLoopDelayMs[key] - b.eventLoopDelayMs[key]) >= 1;
  return d('p50') || d('p99') || d('max');
}
