// Sticky sessions, in the primary: every connection of a client (keyed by its remote IP address)
// goes to the worker its address maps to, as the same socket handle (nothing is tunnelled).
//
// node:cluster's round-robin handle accepts connections in the primary and gives each to the next
// free worker (one hand-off in flight per worker). For the ports of sticky apps nsup takes over
// its accept callback: a connection is handed straight to the chosen worker with the same
// `newconn` message Node's own hand-off uses, so the worker's cluster code accepts it for the
// app's server as usual; its answer comes back as an `ack`. If no worker can take it (none up,
// the chosen one declines, or exits first: handoffs.ts declines for it), the round-robin handle
// gets it as if nsup were not there. Checked on Node 22, 24 and 26: the round-robin server is created with `assert.fail` as
// its connection listener, its accept callback is set in its 'listening' listener, and the key of
// a hand-off is `${address}:${port}:${addressType}:${fd}` of the worker's listen (queryServer).
import type { ChildProcess } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import type net from 'node:net';
import { peerAddress } from './connection-router.ts';

/** Picks the worker process for a client at `ip` connecting to `port` (null: none is up). */
export type StickyRoute = (ip: string, port: number) => ChildProcess | null;

type Accept = (error: number, client: unknown) => void;
interface ClientHandle {
  close(): void;
}
interface Pending {
  client: ClientHandle;
  fallback: () => void;
}

/** The primary side of sticky sessions for every sticky app of one supervisor. */
export class StickyRouter {
  /** Per port of a sticky app: the round-robin key of its listen, and how to route. */
  private readonly ports = new Map<number, { key: string; route: StickyRoute }>();
  private readonly pending = new Map<string, Pending>();
  private readonly watched = new WeakSet<ChildProcess>();
  private seq = 0;
  private readonly subscribers = {
    start() {},
    end() {},
    asyncStart: (message: unknown) => this.onListen(message),
    asyncEnd() {},
    error() {},
  };

  constructor() {
    diagnostics.tracingChannel('net.server.listen').subscribe(this.subscribers);
  }

  /** A worker of a sticky app: learn the ports it listens on, and read its answers to hand-offs. */
  watch(proc: ChildProcess, route: StickyRoute): void {
    if (this.watched.has(proc)) return;
    this.watched.add(proc);
    proc.on('internalMessage', (message: { cmd?: unknown; act?: unknown; ack?: unknown; accepted?: unknown; port?: unknown; address?: unknown; addressType?: unknown; fd?: unknown }) => {
      if (message?.cmd !== 'NODE_CLUSTER') return;
      if (message.act === 'queryServer' && typeof message.port === 'number' && message.port > 0) {
        this.ports.set(message.port, { key: `${String(message.address)}:${message.port}:${String(message.addressType)}:${String(message.fd)}`, route });
      } else if (typeof message.ack === 'string') this.answered(message.ack, message.accepted === true);
    });
    // Hand-offs it never answered (it died first) are declined at its exit by handoffs.ts, which
    // sees every newconn this router sends: the decline comes back here as an ack, and the
    // connection goes to round-robin.
  }

  /** Stop taking over new round-robin servers (the ones taken over keep routing until they close). */
  close(): void {
    diagnostics.tracingChannel('net.server.listen').unsubscribe(this.subscribers);
  }

  // A server listens in the primary. node:cluster's round-robin server (connection listener
  // assert.fail) for a port: once Node set its accept callback, route through nsup first.
  private onListen(message: unknown): void {
    const { server, options } = message as { server?: net.Server; options?: { port?: unknown } };
    const port = options?.port;
    if (!server || typeof port !== 'number' || port <= 0) return;
    if (server.listeners('connection')[0]?.name !== 'fail') return;
    server.once('listening', () => {
      const handle = (server as unknown as { _handle?: { onconnection?: Accept } })._handle;
      // Node's own 'listening' listener (added after this one) sets onconnection: take it after.
      process.nextTick(() => {
        const distribute = handle?.onconnection;
        if (!handle || typeof distribute !== 'function') return;
        handle.onconnection = (error, client) => this.accept(port, error, client, distribute);
      });
    });
  }

  private accept(port: number, error: number, client: unknown, distribute: Accept): void {
    const entry = this.ports.get(port);
    if (error !== 0 || !client || !entry) return distribute(error, client);
    const target = entry.route(peerAddress(client), port);
    if (!target?.connected) return distribute(error, client);
    const seq = `nsup-sticky-${++this.seq}`;
    this.pending.set(seq, { client: client as ClientHandle, fallback: () => distribute(0, client) });
    try {
      target.send({ cmd: 'NODE_CLUSTER', act: 'newconn', key: entry.key, seq }, client as net.Socket);
    } catch {
      this.answered(seq, false);
    }
  }

  // The worker took the connection (the primary's copy of the socket closes, as Node's own hand-off
  // does), or not: then round-robin hands it to another worker.
  private answered(seq: string, accepted: boolean): void {
    const entry = this.pending.get(seq);
    if (!entry) return;
    this.pending.delete(seq);
    if (accepted) entry.client.close();
    else entry.fallback();
  }
}
