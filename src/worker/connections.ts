// What this worker serves, as the drain needs to know it: the servers it listens with (found
// through the `net.server.listen` tracing channel), their connections, and, once a drain started,
// every HTTP response in flight. Until a drain starts nothing here runs per request, and nothing
// per connection of an HTTP server: its connections are read, when needed, from the list Node keeps
// of them anyway (the one behind server.closeIdleConnections()), and the response each one is
// serving is the socket's `_httpMessage`. Only connections Node lists nowhere are tracked one by
// one: those of plain net servers (and HTTP/2), and TLS connections still in their handshake.
import type http from 'node:http';
import type net from 'node:net';
import { trackUpgrades, upgraded } from './websockets.ts';

const { Server } = process.getBuiltinModule('node:net');
const diagnostics = process.getBuiltinModule('node:diagnostics_channel');

/** Servers this worker listens with (kept while a drain runs, so their connections stay visible). */
export const servers = new Set<net.Server>();
/** During a drain: the HTTP responses not finished yet (SSE streams included). Empty before. */
export const inFlight = new Set<http.ServerResponse>();

// Connections Node keeps no list of, until they close (or, in a TLS handshake, until they are
// secure and in the HTTP server's list): one accepted just before a drain may not have sent its
// request yet, and closing it as "idle" would reset it.
const tracked = new Set<net.Socket>();
const known = new WeakSet<net.Server>();
// HTTP(S) servers whose connections Node lists (every HTTP server on Node 22-26).
const listed = new WeakSet<net.Server>();

const state = { draining: false, lastActivity: Date.now() };

/** Since the drain started: when a request last started or ended (the idle grace counts from it). */
export function lastActivity(): number {
  return state.lastActivity;
}

/** A server just listened: track it, its WebSocket upgrades, and the connections Node does not list. */
export function trackServer(server: net.Server): void {
  servers.add(server);
  if (known.has(server)) return;
  known.add(server);
  // Dropped once closed with every connection gone, unless a drain still counts on it.
  server.on('close', () => {
    if (!state.draining) servers.delete(server);
  });
  if (!isHttpServer(server)) return trackConnections(server);
  trackUpgrades(server);
  // Node creates the list in its own 'listening' listener, which runs before this one; no
  // connection arrives before 'listening'.
  server.once('listening', () => {
    if (connectionList(server) === null) return trackConnections(server);
    listed.add(server);
    if (isTlsServer(server)) trackConnections(server, { untilSecure: true });
  });
}

/**
 * Step 1 of a drain: stop accepting on every server; from now on every request is tracked, and
 * the clients of in-flight requests (and of every later one) are told `Connection: close`.
 */
export function startDrain(): void {
  state.draining = true;
  // The idle grace counts from here: before the drain nothing noted activity (a stale time would
  // end the grace at once and close idle keep-alive sockets while clients send on them).
  state.lastActivity = Date.now();
  diagnostics.subscribe('http.server.request.start', (message) => {
    const { response, socket } = message as { response: http.ServerResponse; socket: net.Socket };
    track(response, socket);
  });
  // net.Server.close, not http.Server.close: the latter also drops idle keep-alive sockets at
  // once (since Node 19), which races clients; the listening handle closes either way.
  for (const server of servers) {
    if (!server.listening) continue;
    quietClose(server);
    Server.prototype.close.call(server);
  }
  // The responses in flight right now. Nothing can start in between: all of this is synchronous.
  for (const socket of httpSockets()) adopt(socket);
}

/** The responses in flight: during a drain the tracked ones, before it those the sockets are serving. */
export function liveResponses(): Iterable<http.ServerResponse> {
  if (state.draining) return inFlight;
  const out: http.ServerResponse[] = [];
  for (const socket of httpSockets()) {
    const response = current(socket);
    if (response) out.push(response);
  }
  return out;
}

/** Open HTTP connections (upgraded ones are no longer HTTP and not counted). */
export function httpConnectionCount(): number {
  let count = 0;
  for (const server of servers) if (listed.has(server)) count += connectionList(server)?.all().length ?? 0;
  return count;
}

/** Open connections that are neither WebSockets nor finished: the drain's idle grace waits while there are any. */
export function openConnectionCount(): number {
  let count = httpConnectionCount();
  for (const socket of tracked) if (!upgraded.has(socket)) count++;
  return count;
}

/** The end of the drain: close idle keep-alive sockets; with nothing in flight, every other socket too. */
export function closeIdle(): void {
  for (const server of servers) {
    const closer = (server as Partial<http.Server>).closeIdleConnections;
    if (typeof closer === 'function') closer.call(server);
  }
  if (inFlight.size > 0) return;
  for (const socket of httpSockets()) socket.destroySoon();
  for (const socket of tracked) socket.destroySoon();
}

// ---------------------------------------------------------------------------------------------
// Helpers

function trackConnections(server: net.Server, { untilSecure = false } = {}): void {
  server.on('connection', (socket: net.Socket) => {
    tracked.add(socket);
    socket.once('close', () => tracked.delete(socket));
  });
  // Under TLS the raw connection is tracked only for its handshake: once secure, the HTTP
  // server's list has it (as the TLS socket, whose _parent is the raw one).
  if (untilSecure) server.on('secureConnection', (socket: net.Socket & { _parent?: net.Socket }) => socket._parent && tracked.delete(socket._parent));
}

/** A request started during the drain (or was in flight when it began): track it until it closes. */
function track(response: http.ServerResponse, socket: net.Socket): void {
  if (inFlight.has(response) || response.destroyed) return;
  state.lastActivity = Date.now();
  inFlight.add(response);
  closeAfter(response);
  response.once('close', () => {
    inFlight.delete(response);
    state.lastActivity = Date.now();
    // A pipelined request parsed before the drain waited in Node's queue: it is the socket's
    // response now.
    adopt(socket);
  });
}

function adopt(socket: net.Socket): void {
  const response = current(socket);
  if (response) track(response, socket);
}

// The response a connection is serving right now: Node's own field (since 0.x, on 22-26 too),
// set when a response gets the socket and cleared when it finished. Pipelined requests wait in a
// queue Node keeps to itself and get the socket one after the other.
function current(socket: net.Socket): http.ServerResponse | null {
  const response = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
  return response && !response.destroyed ? response : null;
}

function closeAfter(response: http.ServerResponse): void {
  if (response.headersSent) return;
  response.shouldKeepAlive = false;
  response.setHeader('Connection', 'close');
}

interface ConnectionList {
  all(): Array<{ socket?: net.Socket | null }>;
}

// Node's list of an HTTP server's connections (lib/_http_server.js kConnections, a
// ConnectionsList: the one closeIdleConnections() and closeAllConnections() walk). Its symbol is
// not exported, so it is found by its description, the same on Node 22, 24 and 26.
let listKey: symbol | undefined;
function connectionList(server: net.Server): ConnectionList | null {
  listKey ??= Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === 'http.server.connections');
  const list = listKey === undefined ? undefined : (server as unknown as Record<symbol, unknown>)[listKey];
  return typeof (list as Partial<ConnectionList> | undefined)?.all === 'function' ? (list as ConnectionList) : null;
}

function httpSockets(): net.Socket[] {
  const out: net.Socket[] = [];
  for (const server of servers) {
    if (!listed.has(server)) continue;
    for (const parser of connectionList(server)?.all() ?? []) if (parser.socket) out.push(parser.socket);
  }
  return out;
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

function isTlsServer(server: net.Server): boolean {
  return typeof (server as { setSecureContext?: unknown }).setSecureContext === 'function';
}
