// The requests this worker served (always counted: status, monit and /metrics show them, issue 15),
// and with maxRequests one `recycle` message to the primary when they reach its limit
// (NSUP_MAX_REQUESTS, drawn per worker by the primary). The cost is one comparison and one
// increment per emitted server event, in the server's wrapped emit: no allocation, no listener
// (docs/benchmarks.md, "Per-request tracking").
import type net from 'node:net';
import { NSUP_IPC, type RecycleMessage } from '../ipc/protocol.ts';

// limit 0: no maxRequests (the count, which starts at 1, never equals it).
const state = { limit: 0, count: 0, send: sendToPrimary };
const watched = new WeakSet<net.Server>();

/** The limit from the environment the primary forked this worker with, or null (maxRequests off). */
export function requestLimitFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
  const limit = Number(env.NSUP_MAX_REQUESTS);
  return Number.isSafeInteger(limit) && limit > 0 ? limit : null;
}

/** maxRequests: send `recycle` once when the count reaches `limit` (send: tests pass their own; default process.send). */
export function countRequests(limit: number, send: (message: RecycleMessage) => void = sendToPrimary): void {
  state.limit = limit;
  state.send = send;
}

/** The requests served so far by the servers watched. */
export function requestCount(): number {
  return state.count;
}

/**
 * Count what `server` serves: 'request' on an HTTP(S) server (a streamed event-stream response is
 * one), 'stream' on an HTTP/2 one (and the HTTP/1 'request's of allowHTTP1), 'connection' on a
 * plain net server. The server's own `emit` is wrapped, once: it allocates nothing and adds no
 * listener (a prepended 'request' listener would make every emit copy the listener array, and
 * listenerCount('request') is the app's to read).
 */
export function watchServer(server: net.Server): void {
  if (watched.has(server)) return;
  watched.add(server);
  const counted = countedEvent(server);
  const http2 = counted === 'stream';
  const emit = server.emit;
  server.emit = function (this: net.Server, event: string | symbol, arg?: { httpVersionMajor?: number }) {
    if (event === counted || (http2 && event === 'request' && arg?.httpVersionMajor === 1)) note();
    // apply(this, arguments) passes them on without building an array per call (V8 elides it).
    return emit.apply(this, arguments as unknown as Parameters<typeof emit>);
  } as typeof server.emit;
}

/** A WebSocket upgrade was handed to the app (websockets.ts): it counts as a request. */
export function noteUpgrade(): void {
  note();
}

// ---------------------------------------------------------------------------------------------
// Helpers

function note(): void {
  // Exactly one message: the count only goes up, so it equals the limit once.
  if (++state.count === state.limit) state.send({ nsup: NSUP_IPC, type: 'recycle', requests: state.count });
}

function countedEvent(server: net.Server): string {
  if (typeof (server as { closeIdleConnections?: unknown }).closeIdleConnections === 'function') return 'request';
  // Http2Server and Http2SecureServer: one 'stream' per request (the compat 'request' follows from it).
  if (server.constructor?.name.startsWith('Http2')) return 'stream';
  return 'connection';
}

function sendToPrimary(message: RecycleMessage): void {
  if (process.connected) process.send?.(message);
}
