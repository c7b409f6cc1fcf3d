// readyWhen 'ready': a worker gets no connection before it calls ready(). In cluster mode the
// primary accepts every connection and its round-robin handle passes it to a worker over IPC
// (`{ cmd: 'NODE_CLUSTER', act: 'newconn', key, seq }` with the socket handle; node
// lib/internal/cluster/round_robin_handle.js). Until the worker is ready, the hand-off is declined
// the way a worker that is shutting down declines it (`accepted: false`), and the round-robin handle
// gives the connection to another worker. Workers that listen with `exclusive: true`, or
// NODE_CLUSTER_SCHED_POLICY=none, accept connections themselves and are not gated
// (docs/readiness.md). Also the small helpers sticky routing (sticky-router.ts) shares.
import type { ChildProcess } from 'node:child_process';

// A declined connection goes back to the round-robin queue. With no other worker free it comes
// straight back here: decline again after a short pause instead of spinning the primary.
const BUSY_RETRY_MS = 10;

/** A gate on one worker's connection hand-offs; open() lets them through from then on. */
export interface ReadyGate {
  open(): void;
}

interface NewConn {
  cmd: 'NODE_CLUSTER';
  act: 'newconn';
  key: string;
  seq: number | string;
}

/** Hold back the round-robin connections of `proc` until open(). */
export function gateConnections(proc: ChildProcess): ReadyGate {
  const send = proc.send.bind(proc) as (...args: unknown[]) => boolean;
  let lastDecline = 0;
  proc.send = ((...args: unknown[]) => {
    const message = args[0];
    if (!isNewConn(message)) return send(...args);
    const now = Date.now();
    const delay = now - lastDecline < 2 ? BUSY_RETRY_MS : 0;
    lastDecline = now;
    const reply = { cmd: 'NODE_CLUSTER', ack: message.seq, accepted: false };
    const answer = () => proc.emit('internalMessage', reply, undefined);
    if (delay === 0) setImmediate(answer);
    else setTimeout(answer, delay);
    return true;
  }) as ChildProcess['send'];
  return {
    open() {
      proc.send = send as ChildProcess['send'];
    },
  };
}

/** The routing key of a sticky connection: its remote IP address ('' when there is none, e.g. a unix socket). */
export function peerAddress(handle: unknown): string {
  const getpeername = (handle as { getpeername?: (out: { address?: string }) => number } | null)?.getpeername;
  if (typeof getpeername !== 'function') return '';
  const out: { address?: string } = {};
  return getpeername.call(handle, out) === 0 ? (out.address ?? '') : '';
}

/** The port in a round-robin handle key (`address:port:addressType:fd`; an IPv6 address holds colons). */
export function portOfKey(key: string): number | null {
  const parts = key.split(':');
  const port = Number(parts[parts.length - 3]);
  return Number.isInteger(port) && port > 0 ? port : null;
}

/** 32-bit FNV-1a: spreads IP addresses evenly and is the same in every run. */
export function hashKey(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function isNewConn(message: unknown): message is NewConn {
  const m = message as Partial<NewConn> | null;
  return m?.cmd === 'NODE_CLUSTER' && m.act === 'newconn' && (typeof m.seq === 'number' || typeof m.seq === 'string') && typeof m.key === 'string';
}
