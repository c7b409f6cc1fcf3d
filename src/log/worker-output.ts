// Forwards a worker's stdout/stderr as records (time, stream, app, slot, pid, generation), one
// whole line each, so lines of different workers never mix; keeps the last stderr lines for crash
// reports. A partial line is written after a short quiet time, a very long one in pieces, and a
// worker that writes faster than the destinations take it is paused (its pipe fills and its
// writes wait) instead of growing the primary's memory.
import type { Readable } from 'node:stream';
import { LineSplitter } from './line-splitter.ts';
import { headOf } from './record.ts';
import type { Output } from './logger.ts';

/** How many stderr lines a worker keeps for its exit report. */
export const STDERR_TAIL = 60;
// Each kept stderr line is cut to this many characters (a report shows the tail of a stack trace, not a megabyte).
const TAIL_LINE_CHARS = 2000;
// A destination that has not drained after this long no longer holds the worker back (a stalled
// terminal must not stop the service); its own bounded buffer then drops lines.
const MAX_PAUSE_MS = 1000;

/** A worker's forwarded output. `stderrTail` holds its last stderr lines, oldest first. */
export interface WorkerOutput {
  stderrTail: string[];
  /** Resolves when both streams have ended (the process closed them or exited). */
  closed: Promise<void>;
}

/** Who wrote the lines. */
export interface OutputSource {
  app: string;
  slot: number;
  pid: number | undefined;
  generation: number;
}

/** Pipe one worker's streams into the shared output. */
export function forwardWorkerOutput(opts: { stdout: Readable | null; stderr: Readable | null; source: OutputSource; output: Output }): WorkerOutput {
  const stderrTail: string[] = [];
  const { app, slot, pid, generation } = opts.source;
  const record = (stream: 'out' | 'err') => (msg: string) =>
    opts.output.record({ time: Date.now(), app, worker: slot, ...(pid !== undefined ? { pid } : {}), gen: generation, stream, msg });
  const toErr = record('err');
  const done = [
    forwardLines(opts.stdout, record('out'), opts.output),
    forwardLines(opts.stderr, (line) => {
      stderrTail.push(line.length > TAIL_LINE_CHARS ? `${headOf(line, TAIL_LINE_CHARS)}…` : line);
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
      toErr(line);
    }, opts.output),
  ];
  return { stderrTail, closed: Promise.all(done).then(() => undefined) };
}

/**
 * Split a process's stream into lines for `onLine`, pausing the stream while the shared output's
 * destinations are full (at most MAX_PAUSE_MS). Resolves when the stream ended. Job output uses it too.
 */
export function forwardLines(stream: Readable | null, onLine: (line: string) => void, output: Output): Promise<void> {
  if (!stream) return Promise.resolve();
  const splitter = new LineSplitter(onLine);
  stream.on('data', (chunk: Buffer) => {
    splitter.push(chunk);
    const drained = output.whenWritable();
    if (!drained) return;
    stream.pause();
    splitter.hold(true);
    let resumed = false;
    const resume = () => {
      if (resumed) return;
      resumed = true;
      clearTimeout(timer);
      splitter.hold(false);
      stream.resume();
    };
    const timer = setTimeout(resume, MAX_PAUSE_MS);
    timer.unref();
    void drained.then(resume);
  });
  return new Promise((resolve) => {
    const finish = () => {
      splitter.end();
      resolve();
    };
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  });
}
