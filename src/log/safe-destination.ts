// A pino destination (sonic-boom) whose write errors can neither crash nor hang the primary:
// a reader that went away (EPIPE: `nsup start | head`) silences it quietly; any other error
// (ENOSPC on a full disk, EIO) is reported once per failure spell, and later lines are retried.
import { fsyncSync, writeSync } from 'node:fs';
import pino from 'pino';

/** The sonic-boom stream pino.destination() returns. */
export type Destination = ReturnType<typeof pino.destination>;

/** What a destination's owner hears about its failures. */
export interface DestinationEvents {
  /** The first error of a failure spell (not EPIPE); called again only after a write succeeded. */
  onError?: (error: NodeJS.ErrnoException) => void;
}

/** The state of a safe destination. */
export interface SafeDestination {
  dest: Destination;
  /** 'ok'; 'failing' (the last write failed, later lines are retried); 'gone' (EPIPE: nothing is written any more). */
  state(): 'ok' | 'failing' | 'gone';
  /** Write; returns false while more than sonic-boom's high-water mark (16 KiB) waits to be written. */
  write(text: string): boolean;
  /** Whether a writer should wait for onceDrained() (never for a failing or gone destination: those drop). */
  full(): boolean;
  onceDrained(fn: () => void): void;
}

/** What a destination that cannot write keeps buffered; past it, lines are dropped (sonic-boom's maxLength). */
// Without a bound, a full disk or a stalled reader would grow the primary's memory until it dies.
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
// How long a flushSync at exit waits, in total, for a pipe that answers EAGAIN.
const FLUSH_EAGAIN_BUDGET_MS = 1000;

/** pino.destination(opts) with 'error' contained, a bounded buffer and a flushSync that cannot hang. */
export function safeDestination(opts: Parameters<typeof pino.destination>[0] & object, events: DestinationEvents = {}): SafeDestination {
  const dest = pino.destination({ maxLength: MAX_BUFFERED_BYTES, ...opts });
  let state: 'ok' | 'failing' | 'gone' = 'ok';
  const noop = () => {};
  const onError = (error: NodeJS.ErrnoException) => {
    if (state === 'gone') return;
    if (error.code === 'EPIPE') {
      // The reader is gone for good (the same as pino's own EPIPE filter, which only
      // covers the first error): stop writing there, and say nothing.
      state = 'gone';
      dest.write = () => true;
      dest.flushSync = noop;
      return;
    }
    // pino's filter re-emits a non-EPIPE error once, so the same spell may arrive twice.
    if (state === 'failing') return;
    state = 'failing';
    events.onError?.(error);
  };
  dest.on('error', onError);
  // Past MAX_BUFFERED_BYTES sonic-boom drops lines: a reader that stalled (a paused terminal) is
  // reported like a failure, once per spell, and holds no writer back while it lasts.
  dest.on('drop', () => {
    if (state === 'ok') onError(Object.assign(new Error(`its reader is not keeping up (more than ${MAX_BUFFERED_BYTES / 1024 / 1024} MiB wait to be written); lines are being dropped`), { code: 'ENOBUFS' }));
  });
  dest.on('write', () => {
    if (state === 'failing') state = 'ok';
  });
  // sonic-boom 4's flushSync retries a failing writeSync every 100 ms forever unless the error is
  // EAGAIN/EBUSY, so a closed pipe or a full disk at exit would hang the primary (reproduced:
  // test/unit/log-destination.test.ts). pino's exit hook calls flushSync too, hence the override.
  const flushSync = () => {
    if (state !== 'ok') return;
    const error = drainSync(dest);
    if (error) onError(error);
  };
  dest.flushSync = flushSync;
  // Backpressure for the writers that can wait (worker output): a write past the high-water mark
  // marks the destination full until sonic-boom says it drained.
  let needDrain = false;
  const waiting: Array<() => void> = [];
  const release = () => {
    needDrain = false;
    waiting.splice(0).forEach((fn) => fn());
  };
  dest.on('drain', release);
  const full = () => needDrain && state === 'ok';
  return {
    dest,
    state: () => state,
    write: (text) => {
      if (!dest.write(text) && state === 'ok') needDrain = true;
      return !full();
    },
    full,
    onceDrained: (fn) => (full() ? waiting.push(fn) : fn()),
  };
}

// sonic-boom's own flushSync loop over its (undocumented) buffer fields, with two changes: any
// error other than EAGAIN/EBUSY ends it, and EAGAIN is retried for a bounded time only. Should a
// sonic-boom upgrade rename the fields, it flushes nothing rather than risk the hang.
function drainSync(dest: Destination): NodeJS.ErrnoException | null {
  const s = dest as unknown as Partial<SonicInternals>;
  if (typeof s.fd !== 'number' || !Array.isArray(s._bufs) || typeof s._len !== 'number' || s._writingBuf === undefined) return null;
  if (s.fd < 0 || (dest as unknown as { destroyed?: boolean }).destroyed) return null;
  const sonic = s as SonicInternals;
  // The chunk an async write failed on (or has not started) goes first, as in sonic-boom.
  if (!sonic._writing && sonic._writingBuf.length > 0) {
    sonic._bufs.unshift(sonic._writingBuf);
    sonic._writingBuf = '';
  }
  let waitedMs = 0;
  while (sonic._bufs.length > 0) {
    const head = sonic._bufs[0]!;
    const buf = typeof head === 'string' ? Buffer.from(head) : head;
    try {
      const n = writeSync(sonic.fd, buf);
      sonic._len = Math.max(sonic._len - n, 0);
      if (n >= buf.length) sonic._bufs.shift();
      else sonic._bufs[0] = buf.subarray(n);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EBUSY') {
        // A slow reader, not a failure: leave the rest for the async writes once the budget is spent.
        if (waitedMs >= FLUSH_EAGAIN_BUDGET_MS) return null;
        sleepSync(50);
        waitedMs += 50;
        continue;
      }
      return error as NodeJS.ErrnoException;
    }
  }
  try {
    fsyncSync(sonic.fd);
  } catch {
    // pipes and terminals cannot fsync
  }
  return null;
}

interface SonicInternals {
  fd: number;
  _writing: boolean;
  _writingBuf: string | Buffer;
  _bufs: Array<string | Buffer>;
  _len: number;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
