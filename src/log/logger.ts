// The primary's one pino root logger and the output it shares with worker lines: whole lines
// only, in order, to the terminal (foreground) or to per-app files (daemon), and kept in a
// short per-app memory for `nsup logs`. A write error on any of them (EPIPE once `head` exits, a
// full disk) is contained: the primary neither crashes nor hangs on its own output.
import pino, { type Logger } from 'pino';
import { createRequire } from 'node:module';
import { LogFiles } from './log-files.ts';
import { RecentLines } from './recent-lines.ts';
import { MAX_BUFFERED_BYTES, safeDestination, type Destination } from './safe-destination.ts';

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
  const usePretty = !opts.daemonDir && (opts.pretty ?? Boolean(process.stdout.isTTY));
  // pino-pretty is loaded only for a terminal: a supervisor under systemd or in a container
  // never pays its memory. Its line formatter, not its stream: lines then go through the same
  // contained destination as everything else, in order.
  const pretty = usePretty
    ? (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')).prettyFactory({
        colorize: !process.env.NO_COLOR,
        translateTime: 'HH:MM:ss.l',
        ignore: 'pid,hostname',
        // The messages carry the facts; the structured fields are for machines (JSON mode).
        hideObject: true,
      })
    : null;
  // stderr's own failures have nowhere to go: it is contained and stays quiet.
  const stderr = safeDestination({ fd: 2, sync: false, minLength: 0 });
  // A failing stdout or log file cannot carry its own error: that goes to stderr (and to the
  // app's recent lines, for `nsup logs`), once per failure spell.
  const reporter = pino(PINO_OPTIONS, {
    write(chunk: string) {
      const line = chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk;
      const { app, msg } = peek(line);
      if (app !== undefined) recent.push(app, `[nsup] ${msg}`);
      else recent.pushAll(`[nsup] ${msg}`);
      stderr.dest.write(pretty ? pretty(line) : chunk);
    },
  });
  const reportWriteError = (target: string, error: NodeJS.ErrnoException, app?: string) =>
    reporter.error({ event: 'log.write-error', target, code: error.code, ...(app !== undefined ? { app } : {}) }, describeWriteError(target, error));
  const files = opts.daemonDir ? new LogFiles(opts.daemonDir, opts.maxLogBytes ?? null, (app, path, error) => reportWriteError(path, error, app)) : null;
  const stdout = safeDestination({ fd: 1, sync: false, minLength: 0 }, { onError: (error) => reportWriteError('stdout', error) });
  const write = (stream: Destination, line: string, app: string | undefined) => {
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
      else stdout.dest.write(pretty ? pretty(line) : chunk);
    },
  };
  const logger = pino(PINO_OPTIONS, router);
  const output: Output = {
    out: (line, app) => write(stdout.dest, line, app),
    err: (line, app) => write(stderr.dest, line, app),
    // Never throws nor hangs: a destination that is failing or gone is skipped.
    flush: () => {
      stdout.dest.flushSync();
      stderr.dest.flushSync();
      files?.flush();
    },
    reopen: () => files?.reopen(),
    recent: (app, n) => recent.last(app, n),
    follow: (app, fn) => recent.follow(app, fn),
  };
  return { logger, output };
}

/** One line for a log destination that cannot be written: what failed, the consequence and the fix. */
export function describeWriteError(target: string, error: NodeJS.ErrnoException): string {
  const kept = `nsup and the apps keep running; lines are retried on each write (up to ${MAX_BUFFERED_BYTES / 1024 / 1024} MiB buffered, then dropped)`;
  switch (error.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `cannot write ${target}: the disk is full (${error.code}); ${kept}. Free space on that filesystem${target === 'stdout' ? '' : ' (or cap the files with --log-max-size)'}.`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `cannot write ${target}: ${error.message}; ${kept}. Make ${target} writable by uid ${process.getuid?.() ?? '?'}${target === 'stdout' ? '' : ', then send SIGUSR2 to reopen it'}.`;
    default:
      return `cannot write ${target}: ${error.message}; ${kept}. Check the device or whatever ${target === 'stdout' ? 'reads nsup\'s output' : 'holds that file'}.`;
  }
}

export type { Logger };

const PINO_OPTIONS = { base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } };

function peek(line: string): { app: string | undefined; msg: string } {
  try {
    const parsed = JSON.parse(line) as { app?: unknown; msg?: unknown; time?: unknown; level?: unknown };
    const app = typeof parsed.app === 'string' ? parsed.app : undefined;
    return { app, msg: `${String(parsed.time ?? '')} ${String(parsed.level ?? '')}: ${String(parsed.msg ?? '')}` };
  } catch {
    return { app: undefined, msg: line };
  }
}

