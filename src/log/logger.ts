// The primary's one pino root logger and the output it shares with worker lines. Every line is a
// record (record.ts) written whole, in order, in its app's format (text or JSON, with its time),
// to the terminal (foreground: stdout, stderr for the workers' stderr; journald priorities under
// systemd) and to the app's files (a daemon's `<app>.log`, or logFile/errorFile), and kept in a
// short per-app memory for `nsup logs`. A write error on any of them (EPIPE once `head` exits, a
// full disk) is contained: the primary neither crashes nor hangs on its own output.
import pino, { type Logger } from 'pino';
import { fstatSync } from 'node:fs';
import type { LogOptions, ResolvedApp } from '../config/define.ts';
import { logPath } from '../control/runtime-dir.ts';
import { DISCARD, LogFiles, type AppFiles } from './log-files.ts';
import { formatRecord, jsonObjectOf, type LineStyle, type LogRecord } from './record.ts';
import { RecentLines } from './recent-lines.ts';
import { MAX_BUFFERED_BYTES, safeDestination } from './safe-destination.ts';

/** Where every line of the primary goes. */
export interface Output {
  /** Set (or change, on a reload) each app's format, time and files. */
  configure(apps: readonly ResolvedApp[]): void;
  /** Write one record (a worker's line): to the terminal or the app's files, and to its memory. */
  record(record: LogRecord): void;
  /** null when every destination takes more; else resolves once the full ones drained (writers of worker output wait). */
  whenWritable(): Promise<void> | null;
  /** Block until everything written so far has reached the file descriptors (as far as it can synchronously). */
  flush(): void;
  /** Write out and close the files (at exit). */
  close(): Promise<void>;
  /** Reopen the log files (SIGUSR2, after logrotate moved them). */
  reopen(): void;
  /** The last `n` records of an app (all it remembers when n < 0), oldest first. */
  recent(app: string, n: number): LogRecord[];
  /** Call `fn` with every new record of an app; returns the unsubscribe function. */
  follow(app: string, fn: (record: LogRecord) => void): () => void;
  /** The files an app's lines go to, and which streams each holds (`nsup logs` reads them). */
  files(app: string): Array<{ path: string; streams: Array<'out' | 'err' | 'nsup'> }>;
  /** Empty an app's files and delete their rotated copies (`nsup logs --flush`); returns the paths. */
  empty(app: string): Promise<string[]>;
}

/** How the supervisor logs: foreground (stdout/stderr) or daemon (files in `daemonDir`). */
export interface LoggingOptions {
  /** The apps (their log options); more can be set later with configure(). */
  apps?: readonly ResolvedApp[];
  /** Daemon mode: write each app's lines to `<app>.log` in this directory (unless it sets logFile). */
  daemonDir?: string;
  /** The environment (JOURNAL_STREAM, NO_COLOR); default process.env. */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_LOGS: LogOptions = { format: 'text', time: null, file: null, errorFile: null, rotate: null };

/** Create the logger and output. */
export function createLogging(opts: LoggingOptions = {}): { logger: Logger; output: Output } {
  const env = opts.env ?? process.env;
  const recent = new RecentLines(1000);
  const daemon = opts.daemonDir !== undefined;
  // Under systemd the journal stamps and stores every line: no time of ours, a priority instead.
  const journald = !daemon && connectedToJournal(env.JOURNAL_STREAM);
  const color = !daemon && !journald && Boolean(process.stdout.isTTY) && !env.NO_COLOR;
  const logs = new Map<string, LogOptions>();
  // Each app's line styles, worked out once per configure() rather than per line.
  const styles = new Map<string, { terminal: LineStyle; file: LineStyle }>();
  const stylesOf = (o: LogOptions) => ({
    terminal: { format: o.format, time: o.time ?? (journald ? 'off' : 'iso'), priority: journald, color: color && o.format === 'text' } as LineStyle,
    file: { format: o.format, time: o.time ?? 'iso', priority: false } as LineStyle,
  });
  const defaults = stylesOf(DEFAULT_LOGS);
  // An event about no single app is written like the first app's lines.
  const styleOf = (app: string | undefined) => (app !== undefined ? styles.get(app) : undefined) ?? styles.values().next().value ?? defaults;
  const terminalStyle = (app: string | undefined): LineStyle => styleOf(app).terminal;
  const fileStyle = (app: string): LineStyle => styleOf(app).file;
  // stderr's own failures have nowhere to go: it is contained and stays quiet.
  const stderr = safeDestination({ fd: 2, sync: false, minLength: 0 });
  // A failing stdout or log file cannot carry its own error: that goes to stderr (and to the
  // app's recent lines, for `nsup logs`), once per failure spell.
  const reporter = pino(PINO_OPTIONS, {
    write(chunk: string) {
      const record = eventRecord(chunk);
      remember(record);
      stderr.write(formatRecord(record, terminalStyle(record.app)) + '\n');
    },
  });
  const reportWriteError = (target: string, error: NodeJS.ErrnoException, app?: string) =>
    reporter.error({ event: 'log.write-error', target, code: error.code, ...(app !== undefined ? { app } : {}) }, describeWriteError(target, error));
  const files = new LogFiles((app, path, error) => reportWriteError(path, error, app));
  const stdout = safeDestination({ fd: 1, sync: false, minLength: 0 }, { onError: (error) => reportWriteError('stdout', error) });
  const remember = (record: LogRecord) => {
    if (record.app !== undefined) recent.push(record.app, record);
    else for (const app of logs.keys()) recent.push(app, record);
  };
  const write = (record: LogRecord) => {
    remember(record);
    const app = record.app;
    // An app's own JSON line is merged with nsup's fields (json format only; text keeps the line as written).
    if (app !== undefined && record.stream !== 'nsup' && logs.get(app)?.format === 'json') {
      const fields = jsonObjectOf(record.msg);
      if (fields) record.fields = fields;
    }
    if (!daemon) (record.stream === 'err' ? stderr : stdout).write(formatRecord(record, terminalStyle(app)) + '\n');
    if (app !== undefined) {
      if (files.has(app)) files.write(app, record.stream, formatRecord(record, fileStyle(app)));
    } else {
      for (const name of logs.keys()) if (files.has(name)) files.write(name, 'nsup', formatRecord(record, fileStyle(name)));
    }
  };
  // pino writes each event as one JSON line: a record like any other.
  const logger = pino(PINO_OPTIONS, { write: (chunk: string) => write(eventRecord(chunk)) });
  const output: Output = {
    configure: (apps) => {
      for (const app of apps) {
        logs.set(app.name, app.logs);
        styles.set(app.name, stylesOf(app.logs));
        const appFiles = filesOf(app, opts.daemonDir);
        if (appFiles) files.configure(app.name, appFiles);
      }
    },
    record: write,
    whenWritable: () => {
      const waits = [stdout, stderr].filter((d) => d.full()).map((d) => new Promise<void>((resolve) => d.onceDrained(resolve)));
      const filesDrained = files.whenDrained();
      if (filesDrained) waits.push(filesDrained);
      return waits.length === 0 ? null : Promise.all(waits).then(() => undefined);
    },
    // Never throws nor hangs: a destination that is failing or gone is skipped.
    flush: () => {
      stdout.dest.flushSync();
      stderr.dest.flushSync();
      files.flushSync();
    },
    close: async () => {
      output.flush();
      await files.close();
    },
    reopen: () => files.reopen(),
    recent: (app, n) => recent.last(app, n),
    follow: (app, fn) => recent.follow(app, fn),
    files: (app) => files.files(app),
    empty: async (app) => {
      recent.clear(app);
      return files.empty(app);
    },
  };
  if (opts.apps) output.configure(opts.apps);
  return { logger, output };
}

/** An app's files: a daemon's default `<app>.log`, or its logFile/errorFile; null for a foreground app without. */
function filesOf(app: ResolvedApp, daemonDir: string | undefined): AppFiles | null {
  const { file, errorFile, rotate } = app.logs;
  if (daemonDir === undefined && file === null && errorFile === null) return null;
  const out = file ?? (daemonDir !== undefined ? logPath(daemonDir, app.name) : DISCARD);
  return { out, err: errorFile ?? out, rotate };
}

/**
 * Whether stdout or stderr is the journal's stream: systemd sets JOURNAL_STREAM to its
 * `device:inode`, and a child whose output was redirected elsewhere inherits the variable but not the stream.
 */
export function connectedToJournal(value: string | undefined): boolean {
  const m = /^(\d+):(\d+)$/.exec(value ?? '');
  if (!m) return false;
  for (const fd of [1, 2]) {
    try {
      const st = fstatSync(fd, { bigint: true });
      if (st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!)) return true;
    } catch {
      // closed
    }
  }
  return false;
}

/** One line for a log destination that cannot be written: what failed, the consequence and the fix. */
export function describeWriteError(target: string, error: NodeJS.ErrnoException): string {
  const kept = `nsup and the apps keep running; lines are retried on each write (up to ${MAX_BUFFERED_BYTES / 1024 / 1024} MiB buffered, then dropped)`;
  switch (error.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `cannot write ${target}: the disk is full (${error.code}); ${kept}. Free space on that filesystem${target === 'stdout' ? '' : ' (or cap the files with logRotate, --log-max-size)'}.`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `cannot write ${target}: ${error.message}; ${kept}. Make ${target} writable by uid ${process.getuid?.() ?? '?'}${target === 'stdout' ? '' : ', then send SIGUSR2 to reopen it'}.`;
    default:
      return `cannot write ${target}: ${error.message}; ${kept}. Check the device or whatever ${target === 'stdout' ? 'reads nsup\'s output' : 'holds that file'}.`;
  }
}

export type { Logger };

const PINO_OPTIONS = { base: undefined, timestamp: pino.stdTimeFunctions.epochTime, formatters: { level: (label: string) => ({ level: label }) } };

// pino's JSON line for an event, as a record.
function eventRecord(chunk: string): LogRecord {
  const line = chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk;
  const fields = jsonObjectOf(line) ?? { level: 'info', msg: line };
  const app = typeof fields.app === 'string' ? fields.app : undefined;
  const time = typeof fields.time === 'number' ? fields.time : Date.now();
  return { time, ...(app !== undefined ? { app } : {}), stream: 'nsup', level: String(fields.level ?? 'info'), msg: String(fields.msg ?? ''), fields };
}
