// WebSocket connections upgraded on this worker's HTTP servers, and their graceful close when the
// worker drains: a close frame with 1012 (service restart: a new generation takes over) or 1001
// (going away: stop), so clients see a clean close and reconnect, instead of 1006.
import type http from 'node:http';
import type net from 'node:net';
import type { DrainReason } from '../ipc/protocol.ts';
import { noteUpgrade } from './requests.ts';

/** Open sockets upgraded with `Upgrade: websocket` (only these are ever touched). */
export const upgraded = new Set<net.Socket>();

const wrapped = new WeakSet<net.Server>();

// ws's WebSocket readyState values (the WHATWG ones).
const OPEN = 1;

/** The close code a drain sends (RFC 6455 §7.4, IANA registry): 1001 on stop, 1012 otherwise. */
export function closeCode(reason: DrainReason): number {
  return reason === 'stop' ? 1001 : 1012;
}

/**
 * Note the WebSocket upgrades `server` hands to the app, without changing how it handles them and
 * without a cost per request. Node rejects upgrades on a server without an 'upgrade' listener, so
 * nsup listens only while the app does (ws adds its listener before or after listen()): its own
 * listener comes first and goes when the app's last one does.
 */
export function trackUpgrades(server: net.Server): void {
  if (wrapped.has(server)) return;
  wrapped.add(server);
  const mine = (request: http.IncomingMessage, socket: net.Socket) => adopt(request, socket);
  const appListens = () => server.listeners('upgrade').some((listener) => listener !== mine);
  const sync = () => {
    const ours = server.listeners('upgrade').includes(mine);
    if (appListens() && !ours) server.prependListener('upgrade', mine);
    else if (!appListens() && ours) server.removeListener('upgrade', mine);
  };
  // 'newListener' fires before the listener is added: check once it is there.
  server.on('newListener', (event) => {
    if (event === 'upgrade') queueMicrotask(sync);
  });
  server.on('removeListener', (event) => {
    if (event === 'upgrade') sync();
  });
  sync();
}

/**
 * Send a close frame on every WebSocket the app has not closed itself. The library's own close
 * when it is `ws` (also under socket.io/engine.io), so its state machine stays right; a raw
 * server close frame otherwise.
 */
export function closeWebSockets(reason: DrainReason): void {
  const code = closeCode(reason);
  const text = reason === 'stop' ? 'server going away' : 'server restarting';
  for (const socket of upgraded) {
    if (socket.destroyed || socket.writableEnded) continue;
    const ws = libraryWebSocket(socket);
    if (!ws) {
      socket.write(closeFrame(code, text));
      continue;
    }
    // CLOSING or CLOSED: the app closed it already (an onDrain hook with its own code).
    if (ws.readyState !== OPEN) continue;
    try {
      ws.close(code, text);
    } catch (error) {
      console.error('nsup: closing a WebSocket failed:', error);
    }
  }
}

/** The close handshake's grace is over: destroy the WebSocket connections still open. */
export function destroyWebSockets(): void {
  for (const socket of upgraded) socket.destroy();
}

// ---------------------------------------------------------------------------------------------
// Helpers

function adopt(request: http.IncomingMessage | undefined, socket: net.Socket | undefined): void {
  const upgrade = request?.headers?.upgrade;
  if (!socket || typeof upgrade !== 'string' || upgrade.toLowerCase() !== 'websocket' || upgraded.has(socket)) return;
  upgraded.add(socket);
  socket.once('close', () => upgraded.delete(socket));
  // maxRequests counts a WebSocket as a request (a no-op without maxRequests).
  noteUpgrade();
}

interface LibraryWebSocket {
  readyState: number;
  close(code: number, reason: string): void;
}

// ws keeps its WebSocket on the socket under Symbol('websocket') (ws/lib/constants.js kWebSocket,
// set in WebSocket#setSocket); the symbol is not exported, so it is found by its description.
function libraryWebSocket(socket: net.Socket): LibraryWebSocket | null {
  const key = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'websocket');
  const ws = key === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[key];
  if (typeof ws !== 'object' || ws === null) return null;
  const candidate = ws as Partial<LibraryWebSocket>;
  return typeof candidate.close === 'function' && typeof candidate.readyState === 'number' ? (candidate as LibraryWebSocket) : null;
}

// A server's close frame (RFC 6455 §5.5.1): FIN + opcode 8, unmasked, 2-byte code, UTF-8 reason (< 124 bytes).
function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
