// Runs inside every worker before the user's script (preloaded with --require, bundled into one
// CommonJS file by scripts/bundle.js): it installs the
// stop contract (drain.ts) on the primary's shutdown message and on SIGTERM/SIGINT, tracks the
// servers the drain needs (connections.ts), reports connection counts and heartbeats, and routes
// the primary's messaging messages to this worker's channel (ipc/channel.ts).
//
// What every worker loads is kept to what every app needs. Builtins come from
// process.getBuiltinModule, not from an ES import: importing a builtin as an ES module reads every
// one of its exports, lazy ones included (node:http's WebSocket loads undici, about 13 MB; node:fs's
// promises, node:net's BlockList), which an app that require()s the same module never pays for.
import type net from 'node:net';
import { Channel } from '../ipc/channel.ts';
import { NSUP_IPC, isInternal, type DrainReason } from '../ipc/protocol.ts';
import './unix-sockets.ts';
import { appListenerCount, interceptSignals, takeDefaultAction, type StopSignal } from './app-signals.ts';
import { trackServer } from './connections.ts';
import { drainPhase, runDrain } from './drain.ts';
import { reportConnections } from './report.ts';
import { countRequests, requestLimitFromEnv, watchServer } from './requests.ts';
import { claimChannel, sharedChannel, underNsup } from './shared.ts';

const diagnostics = process.getBuiltinModule('node:diagnostics_channel');

const INSTALLED_KEY = Symbol.for('nsup.worker.runtimeInstalled');
const globals = globalThis as { [INSTALLED_KEY]?: boolean };

// One channel per process, even when two copies of nsup are loaded (the CLI's preload and an
// app's own node_modules/nsup): two would both answer every request.
const ownsChannel = claimChannel(createChannel);

// This worker's end of messaging between workers; null outside nsup.
const channel: Channel | null = sharedChannel();

const REASONS: readonly DrainReason[] = ['reload', 'stop', 'scale', 'replace'];
let draining: Promise<void> | null = null;

function install(): void {
  // Requests are always counted (requests.ts); with maxRequests the worker asks once to be recycled.
  const requestLimit = requestLimitFromEnv();
  if (requestLimit !== null) countRequests(requestLimit);
  diagnostics.tracingChannel('net.server.listen').subscribe({
    start() {},
    end() {},
    asyncStart() {},
    error() {},
    asyncEnd(message) {
      const server = (message as { server?: net.Server }).server;
      if (!server) return;
      trackServer(server);
      watchServer(server);
    },
  });
  // Requests are not tracked until a drain starts (connections.ts): a per-request subscription
  // cost about 6% of keep-alive throughput for the sake of the one drain at the end.
  const killTimeout = Number(process.env.NSUP_KILL_TIMEOUT) || 5000;
  // Ctrl-C signals the whole process group and systemd's default KillMode signals every
  // process: a worker drains on these (a stop) and leaves the orchestration to the primary. The
  // app's own listeners for them run later, at step 3 of the drain.
  interceptSignals((signal) => {
    // A signal the app has no listener for, once its listeners ran: the default action, as
    // without nsup. (A killSignal re-sent by the app itself after removing its listeners, as
    // NestJS does, never comes here: nsup's listener is off by then and Node acts by itself.)
    if (drainPhase() === 'app' && appListenerCount(signal) === 0) return takeDefaultAction(signal);
    void drain(killTimeout, 'stop');
  });
  // (interceptSignals also keeps SIGHUP from the app: to the process group, a closed terminal or
  // `kill -HUP -pgid`, it is the primary's reload signal; by default it would kill every worker.)
  process.on('message', (message) => {
    // The app's own messages are not ours; its process.on('message') listeners see them as sent.
    if (!isInternal(message)) return;
    if (message.type === 'shutdown') void drain(message.timeoutMs, REASONS.includes(message.reason) ? message.reason : 'stop');
    else if (ownsChannel) channel?.receive(message);
  });
  // With heartbeatTimeout, the primary replaces a worker whose event loop stops beating.
  const beatMs = Number(process.env.NSUP_HEARTBEAT_MS);
  if (beatMs > 0) {
    setInterval(() => {
      if (process.connected) process.send?.({ nsup: NSUP_IPC, type: 'heartbeat' });
    }, beatMs).unref();
  }
  reportConnections();
  // Pending requests fail at once when the primary goes away, not after their timeout.
  if (ownsChannel) process.once('disconnect', () => channel?.close());
}

/** Start the stop contract; repeated calls share the first drain. */
function drain(timeoutMs: number, reason: DrainReason): Promise<void> {
  draining ??= runDrain({ timeoutMs, reason, killSignal: killSignal() });
  return draining;
}

/** The signal whose listeners are the app's shutdown code: NSUP_KILL_SIGNAL (config killSignal). */
function killSignal(): StopSignal {
  return process.env.NSUP_KILL_SIGNAL === 'SIGINT' ? 'SIGINT' : 'SIGTERM';
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

if (underNsup && !globals[INSTALLED_KEY]) {
  globals[INSTALLED_KEY] = true;
  install();
}
