// The primary's one pino root logger and the output it shares with worker lines: whole lines
// only, in order, to the terminal (foreground) or to per-app files (daemon), and kept in a
// short per-app memory for `nsup logs`.
import pino, { type Logger } from 'pino';
import { createRequire } from 'node:module';
import { LogFiles } from './log-files.ts';
import { RecentLines } from './recent-lines.ts';

/** Where every line of the primary goes. */
export interface Output {
  /** Write one complete line (a newline is added) to stdout, or to the app's file in daemon mode. */
  out(line: string, app?: string): void;
  /** Same for stderr. */
  err(line: string, app?: string): void;
  /** Block until everything written so far has reached the file descriptors. */
  flush(): void;
  /** Reopen the log files (SIGUSR2, after logrotate moved them); nothing in the foreground. */
  reopen(): void;
  /** The last `n` lines of an app (worker output and supervisor events), oldest first. */
  recent(app: string, n: number): string[];
  /** Call `fn` with every new line of an app; returns the unsubscribe function. */
  follow(app: string, fn: (line: string) => void): () => void;
}

/** How the supervisor logs: foreground (stdout/stderr) or daemon (files in `dir`). */
export interface LoggingOptions {
  /** Pretty text instead of JSON lines. Default: stdout is a TTY (and not daemon). */
  pretty?: boolean;
  /** Daemon mode: write `<app>.log` files in this directory. */
  daemonDir?: string;
  /** Daemon mode: rotate a log file to `<app>.log.1` when it grows past this many bytes. */
  maxLogBytes?: number | null;
}

/** Create the logger and output. */
export function createLogging(opts: LoggingOptions = {}): { logger: Logger; output: Output } {
  const recent = new RecentLines(1000);
  const files = opts.daemonDir ? new LogFiles(opts.daemonDir, opts.maxLogBytes ?? null) : null;
  const stdout = pino.destination({ fd: 1, sync: false, minLength: 0 });
  const stderr = pino.destination({ fd: 2, sync: false, minLength: 0 });
  const usePretty = !files && (opts.pretty ?? Boolean(process.stdout.isTTY));
  // pino-pretty is loaded only for a terminal: a supervisor under systemd or in a container
  // never pays its memory.
  const prettyStream = usePretty
    ? (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty'))({
        destination: stdout,
        sync: true,
        colorize: !process.env.NO_COLOR,
        translateTime: 'HH:MM:ss.l',
        ignore: 'pid,hostname',
        // The messages carry the facts; the structured fields are for machines (JSON mode).
        hideObject: true,
      })
    : null;
  const write = (stream: typeof stdout, line: string, app: string | undefined) => {
    if (app !== undefined) recent.push(app, line);
    if (files) files.write(app, line);
    else stream.write(line + '\n');
  };
  // pino writes each event as one JSON line; route it by its `app` field.
  const router = {
    write(chunk: string) {
      const line = chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk;
      const { app, msg } = peek(line);
      if (app !== undefined) recent.push(app, `[nsup] ${msg}`);
      else recent.pushAll(`[nsup] ${msg}`);
      if (files) files.write(app, line);
      else if (prettyStream) prettyStream.write(chunk);
      else stdout.write(chunk);
    },
  };
  const logger = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, router);
  const output: Output = {
    out: (line, app) => write(stdout, line, app),
    err: (line, app) => write(stderr, line, app),
    flush: () => {
      flushQuietly(stdout);
      flushQuietly(stderr);
      files?.flush();
    },
    reopen: () => files?.reopen(),
    recent: (app, n) => recent.last(app, n),
    follow: (app, fn) => recent.follow(app, fn),
  };
  return { logger, output };
}

export type { Logger };

function peek(line: string): { app: string | undefined; msg: string } {
  try {
    const parsed = JSON.parse(line) as { app?: unknown; msg?: unknown; time?: unknown; level?: unknown };
    const app = typeof parsed.app === 'string' ? parsed.app : undefined;
    return { app, msg: `${String(parsed.time ?? '')} ${String(parsed.level ?? '')}: ${String(parsed.msg ?? '')}` };
  } catch {
    return { app: undefined, msg: line };
  }
}

function flushQuietly(stream: ReturnType<typeof pino.destination>): void {
  try {
    stream.flushSync();
  } catch {
    // EAGAIN on a full pipe or a closed reader: nothing more we can do at exit.
  }
}
