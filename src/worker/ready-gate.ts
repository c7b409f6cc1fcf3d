// readyWhen 'ready': a worker gets no connection before it calls ready(). In cluster mode the
// primary accepts every connection and its round-robin handle passes each one to a worker over IPC
// (`{ cmd: 'NODE_CLUSTER', act: 'newconn' }`, node lib/internal/cluster/round_robin_handle.js).
// Until the worker is ready, the gate declines those hand-offs the way a worker that is shutting
// down does (`accepted: false`), and the round-robin handle gives the connection to another worker.
// Workers that listen with `exclusive: true`, or NODE_CLUSTER_SCHED_POLICY=none, accept
// connections themselves and are not gated (docs/readiness.md).
import type { ChildProcess } from 'node:child_process';

// A declined connection goes back to the round-robin queue. With no other worker free it comes
// straight back here: decline again after a short pause instead of spinning the primary.
const BUSY_RETRY_MS = 10;

/** A gate on one worker's connection hand-offs; open() lets them through from then on. */
export interface ReadyGate {
  open(): void;
}

/** Hold back the round-robin connections of `proc` until open(). */
export function gateConnections(proc: ChildProcess): ReadyGate {
  const send = proc.send.bind(proc) as (...args: unknown[]) => boolean;
  let lastDecline = 0;
  proc.send = ((...args: unknown[]) => {
    const message = args[0] as { cmd?: unknown; act?: unknown; seq?: unknown } | null;
    if (message?.cmd !== 'NODE_CLUSTER' || message.act !== 'newconn' || typeof message.seq !== 'number') return send(...args);
    const now = Date.now();
    const delay = now - lastDecline < 2 ? BUSY_RETRY_MS : 0;
    lastDecline = now;
    const reply = { cmd: 'NODE_CLUSTER', ack: message.seq, accepted: false };
    const decline = () => proc.emit('internalMessage', reply, undefined);
    if (delay === 0) setImmediate(decline);
    else setTimeout(decline, delay);
    return true;
  }) as ChildProcess['send'];
  return {
    open() {
      proc.send = send as ChildProcess['send'];
    },
  };
}
