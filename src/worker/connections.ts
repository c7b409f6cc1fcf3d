// What this worker serves, as the drain needs to know it: the servers it listens with (found
// through the `net.server.listen` tracing channel), every accepted connection, and every HTTP
// response in flight. Nothing here changes how the app's servers behave until a drain starts.
import net from 'node:net';
import type http from 'node:http';
import { trackUpgrades } from './websockets.ts';

/** Servers this worker listens with. */
export const servers = new Set<net.Server>();
/** HTTP responses not finished yet (SSE streams included). */
export const inFlight = new Set<http.ServerResponse>();
// Every accepted connection, HTTP or not, until it closes: one accepted just before a drain may not
// have sent its request yet, and closing it as "idle" would reset it.
export const sockets = new Set<net.Socket>();

const state = { draining: false, lastActivity: Date.now(), httpSockets: 0 };

/** When a connection last opened or a request last started or ended (the idle grace counts from it). */
export function lastActivity(): number {
  return state.lastActivity;
}

/** Open connections accepted by HTTP(S) servers (upgraded ones included). */
export function httpSocketCount(): number {
  return state.httpSockets;
}

/** A server just listened: track it, its connections, and its WebSocket upgrades. */
export function trackServer(server: net.Server): void {
  if (servers.has(server)) return;
  servers.add(server);
  server.once('close', () => servers.delete(server));
  const http = isHttpServer(server);
  if (http) trackUpgrades(server);
  server.on('connection', (socket: net.Socket) => {
    state.lastActivity = Date.now();
    sockets.add(socket);
    if (http) state.httpSockets++;
    socket.once('close', () => {
      sockets.delete(socket);
      if (http) state.httpSockets--;
    });
  });
}

/** An HTTP request started; once a drain began, its keep-alive client is told to close after it. */
export function trackResponse(response: http.ServerResponse): void {
  state.lastActivity = Date.now();
  inFlight.add(response);
  if (state.draining) closeAfter(response);
  response.once('close', () => {
    inFlight.delete(response);
    state.lastActivity = Date.now();
  });
}

/**
 * Step 1 of a drain: stop accepting on every server, and tell the clients of in-flight requests
 * (and of every later one) `Connection: close`.
 */
export function stopAccepting(): void {
  state.draining = true;
  // net.Server.close, not http.Server.close: the latter also drops idle keep-alive sockets at
  // once (since Node 19), which races clients; the listening handle closes either way.
  for (const server of servers) {
    if (!server.listening) continue;
    quietClose(server);
    net.Server.prototype.close.call(server);
  }
  for (const response of inFlight) closeAfter(response);
}

/** The end of the drain: close idle keep-alive sockets; with nothing in flight, every other socket too. */
export function closeIdle(): void {
  for (const server of servers) {
    const closer = (server as Partial<http.Server>).closeIdleConnections;
    if (typeof closer === 'function') closer.call(server);
  }
  if (inFlight.size === 0) for (const socket of sockets) socket.destroySoon();
}

// ---------------------------------------------------------------------------------------------
// Helpers

function closeAfter(response: http.ServerResponse): void {
  if (response.headersSent) return;
  response.shouldKeepAlive = false;
  response.setHeader('Connection', 'close');
}

// The app's own shutdown code closes its server too (`server.close(cb)` in Express's and Node's
// docs); nsup closed it already, and Node would hand `cb` ERR_SERVER_NOT_RUNNING, which apps treat
// as a failure. That one error is dropped on the servers nsup closed; everything else passes on.
function quietClose(server: net.Server): void {
  const close = server.close;
  server.close = function (this: net.Server, callback?: (error?: Error) => void) {
    if (typeof callback !== 'function') return close.call(this, callback);
    return close.call(this, (error?: Error) => {
      if (error == null || (error as NodeJS.ErrnoException).code === 'ERR_SERVER_NOT_RUNNING') callback.call(this);
      else callback.call(this, error);
    });
  };
}

// http.Server and https.Server (the latter is a tls.Server) both have closeIdleConnections.
function isHttpServer(server: net.Server): boolean {
  return typeof (server as Partial<http.Server>).closeIdleConnections === 'function';
}
