// This worker's open connections by kind, sent to the primary for status when they changed. The
// counts are read once a second from what Node keeps anyway (each HTTP server's list of
// connections, the response each one serves): nothing runs per request or connection for them.
import { NSUP_IPC, type ConnectionsMessage } from '../ipc/protocol.ts';
import { httpConnectionCount, liveResponses } from './connections.ts';
import { requestCount } from './requests.ts';
import { isEventStream } from './sse.ts';
import { upgraded } from './websockets.ts';

// At most one report a second: status is read by people, and IPC is shared with the app.
const REPORT_MS = 1000;

/** The counts right now. */
export function connectionCounts(): Omit<ConnectionsMessage, 'nsup' | 'type'> {
  let responses = 0;
  let stream = 0;
  for (const response of liveResponses()) {
    responses++;
    if (isEventStream(response)) stream++;
  }
  const requests = requestCount();
  return {
    inFlight: responses - stream,
    // Open HTTP connections without a request in progress (an upgraded one is no longer HTTP).
    keepAlive: Math.max(0, httpConnectionCount() - responses),
    websocket: upgraded.size,
    stream,
    // With maxRequests only (status shows how far each worker is from its limit).
    ...(requests === null ? {} : { requests }),
  };
}

/** Send `connections` to the primary once, then whenever the counts changed, checked once a second; never keeps the worker alive. */
export function reportConnections(): void {
  // The first check always reports (an idle worker shows 0, not "no report yet").
  let last: ReturnType<typeof connectionCounts> | null = null;
  setInterval(() => {
    if (!process.connected) return;
    const counts = connectionCounts();
    if (last && counts.inFlight === last.inFlight && counts.keepAlive === last.keepAlive && counts.websocket === last.websocket && counts.stream === last.stream && counts.requests === last.requests) return;
    last = counts;
    process.send?.({ nsup: NSUP_IPC, type: 'connections', ...counts } satisfies ConnectionsMessage);
  }, REPORT_MS).unref();
}
