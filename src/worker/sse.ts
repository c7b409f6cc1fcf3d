// Server-sent event streams among the in-flight responses: counted apart from requests, and ended
// cleanly when the worker drains, so they do not hold a reload for the whole killTimeout and
// EventSource clients reconnect to the new generation.
import type http from 'node:http';
import { inFlight } from './connections.ts';

const EVENT_STREAM = /^\s*text\/event-stream/i;
const EVENT_STREAM_HEADER = /\r\ncontent-type:[ \t]*text\/event-stream/i;

/** Whether `response` is an SSE stream: its headers are sent with Content-Type text/event-stream. */
export function isEventStream(response: http.ServerResponse): boolean {
  if (!response.headersSent) return false;
  const type = response.getHeader('content-type');
  if (typeof type === 'string') return EVENT_STREAM.test(type);
  // writeHead(200, { 'Content-Type': … }) without an earlier setHeader stores no header that
  // getHeader can see, only the header block written (the idiom of most SSE examples).
  const head = (response as { _header?: unknown })._header;
  return typeof head === 'string' && EVENT_STREAM_HEADER.test(head);
}

/** During a drain: end every open SSE stream (the client sees a clean end of the response). */
export function endEventStreams(): void {
  for (const response of inFlight) {
    if (response.writableEnded || !isEventStream(response)) continue;
    // The app may still write to it (a timer between now and the response's 'close'): that write
    // fails because nsup ended the stream, and must not become an uncaught 'error'.
    response.on('error', ignore);
    response.end();
  }
}

function ignore(): void {}
