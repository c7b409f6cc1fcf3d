// Runs inside every worker before the user's script (preloaded with --import). It turns
// SIGTERM/SIGINT and the primary's shutdown message into a graceful drain: stop accepting,
// finish in-flight requests, tell keep-alive clients `Connection: close`, then exit. It also
// routes the primary's messaging messages to this worker's channel (ipc/channel.ts).
import cluster from 'node:cluster';
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import type http from 'node:http';
import { Channel } from '../ipc/channel.ts';
import { NSUP_IPC, isInternal } from '../ipc/protocol.ts';

// Shared per process through global symbols: when two copies of nsup are loaded (the CLI's
// preload and an app's own node_modules/nsup), one runtime drains and runs every copy's hooks.
const HOOKS_KEY = Symbol.for('nsup.worker.shutdownHooks');
const INSTALLED_KEY = Symbol.for('nsup.worker.runtimeInstalled');
const globals = globalThis as { [HOOKS_KEY]?: Array<() => void | Promise<void>>; [INSTALLED_KEY]?: boolean };

/** Hooks registered with onShutdown(): run after connections are drained, before exit. */
const shutdownHooks = (globals[HOOKS_KEY] ??= []);

/** Register a function that runs before this worker exits on drain. */
export function addShutdownHook(fn: () => void | Promise<void>): void {
  shutdownHooks.push(fn);
}

/** Whether this process is an nsup worker. */
export const underNsup = cluster.isWorker && typeof process.env.NSUP_APP === 'string';

// One channel per process, even when two copies of nsup are loaded (the CLI's preload and an
// app's own node_modules/nsup): two would both answer every request.
const CHANNEL_KEY = Symbol.for('nsup.worker.channel');
const shared = globalThis as { [CHANNEL_KEY]?: Channel };
const ownsChannel = underNsup && !shared[CHANNEL_KEY];
if (ownsChannel) shared[CHANNEL_KEY] = createChannel();

/** This worker's end of messaging between workers; null outside nsup. */
export const channel: Channel | null = underNsup ? (shared[CHANNEL_KEY] ?? null) : null;

// Servers this worker listens with, and HTTP requests whose response is not finished.
const servers = new Set<net.Server>();
const inFlight = new Set<http.ServerResponse>();
// Every accepted connection, HTTP or not, until it closes: one accepted just before a drain may not
// have sent its request yet, and closing it as "idle" would reset it.
const sockets = new Set<net.Socket>();
let draining: Promise<void> | null = null;
let lastActivity = Date.now();

// How long idle keep-alive sockets get to send one more request (answered with
// `Connection: close`) before they are closed: closing them at once races a client
// that is sending on them right then (ECONNRESET), see nodejs/node#40071 and PM2 #2729.
const IDLE_GRACE_MS = 500;

function install(): void {
  diagnostics.tracingChannel('net.server.listen').subscribe({
    start() {},
    end() {},
    asyncStart() {},
    error() {},
    asyncEnd(message) {
      const server = (message as { server?: net.Server }).server;
      if (!server) return;
      servers.add(server);
      server.once('close', () => servers.delete(server));
      server.on('connection', (socket: net.Socket) => {
        lastActivity = Date.now();
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
    },
  });
  // Every request is tracked from its start: a drain must know exactly which responses are in
  // flight (adopting them from the sockets at drain time lost requests under keep-alive load).
  diagnostics.subscribe('http.server.request.start', (message) => track((message as { response: http.ServerResponse }).response));
  const killTimeout = Number(process.env.NSUP_KILL_TIMEOUT) || 5000;
  // Ctrl-C signals the whole process group and systemd's default KillMode signals every
  // process: a worker drains on these and leaves the orchestration to the primary.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void drain(killTimeout));
  // SIGHUP to the process group (a closed terminal, `kill -HUP -pgid`) is the primary's reload
  // signal; by default it would kill every worker at once.
  process.on('SIGHUP', () => {});
  process.on('message', (message) => {
    // The app's own messages are not ours; its process.on('message') listeners see them as sent.
    if (!isInternal(message)) return;
    if (message.type === 'shutdown') void drain(message.timeoutMs);
    else if (ownsChannel) channel?.receive(message);
  });
  // With heartbeatTimeout, the primary replaces a worker whose event loop stops beating.
  const beatMs = Number(process.env.NSUP_HEARTBEAT_MS);
  if (beatMs > 0) {
    setInterval(() => {
      if (process.connected) process.send?.({ nsup: NSUP_IPC, type: 'heartbeat' });
    }, beatMs).unref();
  }
  // Pending requests fail at once when the primary goes away, not after their timeout.
  if (ownsChannel) process.once('disconnect', () => channel?.close());
}

/** Drain and exit; repeated calls share the first drain. */
function drain(timeoutMs: number): Promise<void> {
  draining ??= runDrain(timeoutMs);
  return draining;
}

async function runDrain(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + Math.max(0, timeoutMs - 100);
  // net.Server.close, not http.Server.close: the latter also drops idle keep-alive sockets at
  // once (since Node 19), which races clients; the listening handle closes either way.
  for (const server of servers) {
    if (server.listening) net.Server.prototype.close.call(server);
  }
  for (const response of inFlight) closeAfter(response);
  while (Date.now() < deadline) {
    const idle = inFlight.size === 0;
    if (idle && (sockets.size === 0 || Date.now() - lastActivity >= IDLE_GRACE_MS)) break;
    await sleep(20);
  }
  for (const server of servers) {
    const closer = (server as Partial<http.Server>).closeIdleConnections;
    if (typeof closer === 'function') closer.call(server);
  }
  if (inFlight.size === 0) for (const socket of sockets) socket.destroySoon();
  await runHooks(deadline);
  process.exit(0);
}

async function runHooks(deadline: number): Promise<void> {
  for (const hook of shutdownHooks) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    try {
      await Promise.race([Promise.resolve().then(hook), sleep(left)]);
    } catch (error) {
      console.error('nsup: an onShutdown hook failed:', error);
    }
  }
}

/** An in-flight response; once a drain began, its keep-alive client is told to close after it. */
function track(response: http.ServerResponse): void {
  lastActivity = Date.now();
  inFlight.add(response);
  if (draining) closeAfter(response);
  response.once('close', () => {
    inFlight.delete(response);
    lastActivity = Date.now();
  });
}

function closeAfter(response: http.ServerResponse): void {
  if (response.headersSent) return;
  response.shouldKeepAlive = false;
  response.setHeader('Connection', 'close');
}

function createChannel(): Channel {
  return new Channel({
    port: {
      get connected() {
        return process.connected;
      },
      send: (message, done) => void process.send?.(message, undefined, undefined, done),
    },
    app: process.env.NSUP_APP ?? '',
    id: Number(process.env.NSUP_WORKER_ID),
    serialization: process.env.NSUP_SERIALIZATION === 'advanced' ? 'advanced' : 'json',
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (underNsup && !globals[INSTALLED_KEY]) {
  globals[INSTALLED_KEY] = true;
  install();
}
