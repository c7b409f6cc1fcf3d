// A worker that dies while the primary is handing it a connection must not take that connection
// with it. node:cluster's round-robin handle (lib/internal/cluster/round_robin_handle.js) sends the
// accepted socket to a worker with a `newconn` message and keeps its own copy until the worker's
// `ack`: accepted, it closes its copy; declined, it hands the socket to another worker. A worker
// that exits before it read the message (a crash, a blocked event loop killed, a drain that ends as
// the hand-off is on its way) never answers: Node forgets the callback, and the primary holds the
// socket open forever, so the client waits until its own timeout (raw node:cluster does the same:
// docs/benchmarks.md). At the worker's exit, every hand-off it never answered is declined in its
// name, the way a worker that is shutting down declines one, and round-robin gives the connection
// to a live worker. The same holds for sticky-router.ts's own hand-offs (newconn messages too):
// their decline reaches its ack listener, and it falls back to round-robin.
import type { ChildProcess } from 'node:child_process';

interface ClusterMessage {
  cmd?: unknown;
  act?: unknown;
  seq?: unknown;
  ack?: unknown;
}

/** Watch `proc`'s connection hand-offs, and decline the ones it never answered when it exits. Call before any other wrapper of proc.send (connection-router.ts). */
export function rescueHandoffs(proc: ChildProcess): void {
  // seq of every newconn sent and not yet answered (at most one in flight per worker, by Node's design).
  const pending = new Set<unknown>();
  const send = proc.send.bind(proc) as (...args: unknown[]) => boolean;
  proc.send = ((...args: unknown[]) => {
    const message = args[0] as ClusterMessage | null;
    if (message?.cmd === 'NODE_CLUSTER' && message.act === 'newconn') pending.add(message.seq);
    return send(...args);
  }) as ChildProcess['send'];
  proc.on('internalMessage', (message: ClusterMessage | null) => {
    if (message?.cmd === 'NODE_CLUSTER' && message.ack !== undefined) pending.delete(message.ack);
  });
  // Once node:cluster took the worker out of round-robin (its own exit and disconnect listeners,
  // added at fork, run first; it removes a worker that exits still connected only at the
  // disconnect), so that the declined connections go to the workers left, or wait for the next one.
  const decline = () => {
    for (const seq of pending) proc.emit('internalMessage', { cmd: 'NODE_CLUSTER', ack: seq, accepted: false }, undefined);
    pending.clear();
  };
  proc.once('exit', () => (proc.connected ? proc.once('disconnect', decline) : decline()));
}
