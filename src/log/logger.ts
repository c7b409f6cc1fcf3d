// The primary's one pino root logger and the output stream it shares with worker output,
// so supervisor events and worker lines never interleave mid-line.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Stable `event` names of the supervisor's structured log lines (tests wait on these). */
export type LogEvent =
  | 'supervisor.start'
  | 'supervisor.stopping'
  | 'supervisor.stopped'
  | 'supervisor.error'
  | 'config.loaded'
  | 'app.instances'
  | 'app.state'
  | 'worker.state'
  | 'worker.listening'
  | 'worker.exit'
  | 'worker.restart'
  | 'worker.halted'
  | 'worker.kill'
  | 'signal';

/** Where every line of the primary goes: one buffered, ordered writer per file descriptor. */
export interface Output {
  /** Write one complete line (a newline is added) to stdout. */
  out(line: string): void;
  /** Write one complete line (a newline is added) to stderr. */
  err(line: string): void;
  /** Block until everything written so far has reached the file descriptors. */
  flush(): void;
}

/** Create the logger and output streams. JSON lines unless stdout is a TTY (then readable, coloured text). */
export function createLogging(opts: { pretty?: boolean } = {}): { logger: Logger; output: Output } {
  const stdout = pino.destination({ fd: 1, sync: false, minLength: 0 });
  const stderr = pino.destination({ fd: 2, sync: false, minLength: 0 });
  const usePretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  const stream = usePretty
    ? pretty({
        destination: stdout,
        sync: true,
        colorize: !process.env.NO_COLOR,
        translateTime: 'HH:MM:ss.l',
        ignore: 'pid,hostname',
        // The messages carry the facts; the structured fields are for machines (JSON mode).
        hideObject: true,
      })
    : stdout;
  const logger = pino(
    { base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    stream,
  );
  const output: Output = {
    out: (line) => void stdout.write(line + '\n'),
    err: (line) => void stderr.write(line + '\n'),
    flush: () => {
      flushQuietly(stdout);
      flushQuietly(stderr);
    },
  };
  return { logger, output };
}

export type { Logger };

function flushQuietly(stream: ReturnType<typeof pino.destination>): void {
  try {
    stream.flushSync();
  } catch {
    // EAGAIN on a full pipe or a closed reader: nothing more we can do at exit.
  }
}
