// Forwards a worker's stdout/stderr line by line, prefixed with [app:id], so lines of different
// workers never mix; keeps the last stderr lines for crash reports.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Output } from './logger.ts';

/** How many stderr lines a worker keeps for its exit report. */
export const STDERR_TAIL = 60;

/** A worker's forwarded output. `stderrTail` holds its last stderr lines, oldest first. */
export interface WorkerOutput {
  stderrTail: string[];
  /** Resolves when both streams have ended (the process closed them or exited). */
  closed: Promise<void>;
}

/** Pipe one worker's streams into the shared output. With `jsonLogs`, JSON lines pass through untouched. */
export function forwardWorkerOutput(opts: {
  stdout: Readable | null;
  stderr: Readable | null;
  app: string;
  prefix: string;
  jsonLogs: boolean;
  output: Output;
}): WorkerOutput {
  const stderrTail: string[] = [];
  const format = (line: string): string => (opts.jsonLogs && isJsonObject(line) ? line : `${opts.prefix} ${line}`);
  const done = [
    lines(opts.stdout, (line) => opts.output.out(format(line), opts.app)),
    lines(opts.stderr, (line) => {
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
      opts.output.err(format(line), opts.app);
    }),
  ];
  return { stderrTail, closed: Promise.all(done).then(() => undefined) };
}

function lines(stream: Readable | null, onLine: (line: string) => void): Promise<void> {
  if (!stream) return Promise.resolve();
  const reader = createInterface({ input: stream, crlfDelay: Infinity });
  reader.on('line', onLine);
  return new Promise((resolve) => reader.once('close', resolve));
}

function isJsonObject(line: string): boolean {
  if (!line.startsWith('{') || !line.endsWith('}')) return false;
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
