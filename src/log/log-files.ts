// The apps' log files: `<app>.log` in the runtime dir for a daemon, or each app's logFile and
// errorFile. A file with rotation is a rotating-file-stream (by size and/or on a schedule, the
// last `keep` kept as `<file>.1`, `<file>.2`…, gzipped if asked); one without is an append-mode
// file that SIGUSR2 reopens after logrotate moved it. '/dev/null' discards without opening.
import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { createRequire } from 'node:module';
import type { RotatingFileStream } from 'rotating-file-stream';
import type { LogOptions } from '../config/define.ts';
import { safeDestination, type SafeDestination } from './safe-destination.ts';

/** Told about a log file that cannot be opened or written (once per failure spell). */
export type LogFileErrorHandler = (app: string, path: string, error: NodeJS.ErrnoException) => void;

/** Where one app's lines go: stdout lines and nsup's events to `out`, stderr lines to `err` (the same path: one file). */
export interface AppFiles {
  out: string;
  err: string;
  rotate: LogOptions['rotate'];
}

export const DISCARD = '/dev/null';

// A rotating file's lines are written in chunks of up to this many characters.
const BATCH_BYTES = 64 * 1024;
// Writes queued while a file is being emptied (--flush) or reopened: beyond this, lines are dropped.
const QUEUE_LIMIT_BYTES = 4 * 1024 * 1024;

/** One open file, by path; several apps (or an app's out and err) may share it. */
interface Sink {
  path: string;
  write(line: string): boolean;
  /** Whether a write returned false and 'drain' has not come yet. */
  full(): boolean;
  onceDrained(fn: () => void): void;
  reopen(): void;
  flushSync(): void;
  close(): Promise<void>;
  /** Empty the file and delete its rotated siblings. */
  empty(): Promise<void>;
}

/** Every log file of every app. */
export class LogFiles {
  private readonly sinks = new Map<string, Sink>();
  private readonly apps = new Map<string, AppFiles>();
  private readonly onError: LogFileErrorHandler;
  // After close() (the supervisor's exit), a late line is dropped rather than written to an ended stream.
  private closed = false;

  constructor(onError: LogFileErrorHandler = () => {}) {
    this.onError = onError;
  }

  /** Set (or change, on a reload) the files of `app`; opens them now so they exist before the first line. */
  configure(app: string, files: AppFiles): void {
    this.apps.set(app, files);
    for (const path of new Set([files.out, files.err])) if (path !== DISCARD) this.sink(app, path, files.rotate);
    // A file no app uses any more is closed.
    const used = new Set([...this.apps.values()].flatMap((f) => [f.out, f.err]));
    for (const [path, sink] of this.sinks) {
      if (!used.has(path)) {
        this.sinks.delete(path);
        void sink.close();
      }
    }
  }

  /** Whether `app` has files (some apps may log only to the terminal). */
  has(app: string): boolean {
    return this.apps.has(app);
  }

  /** The files of `app` and which streams each holds (for `nsup logs`); /dev/null left out. */
  files(app: string): Array<{ path: string; streams: Array<'out' | 'err' | 'nsup'> }> {
    const files = this.apps.get(app);
    if (!files) return [];
    const out: Array<{ path: string; streams: Array<'out' | 'err' | 'nsup'> }> = [];
    if (files.out !== DISCARD) out.push({ path: files.out, streams: files.err === files.out ? ['out', 'err', 'nsup'] : ['out', 'nsup'] });
    if (files.err !== DISCARD && files.err !== files.out) out.push({ path: files.err, streams: ['err'] });
    return out;
  }

  /**
   * Append one line to `app`'s file for `stream` (events go with stdout). Returns false when a
   * file holds more than it should in memory: the caller pauses its source until whenDrained().
   */
  write(app: string, stream: 'out' | 'err' | 'nsup', line: string): boolean {
    const files = this.apps.get(app);
    if (!files || this.closed) return true;
    const path = stream === 'err' ? files.err : files.out;
    if (path === DISCARD) return true;
    return this.sink(app, path, files.rotate).write(line + '\n');
  }

  /** One line (nsup's start and stop) in every app's stdout file. */
  writeAll(line: string): void {
    for (const app of this.apps.keys()) this.write(app, 'nsup', line);
  }

  /** Resolves once no file is over its memory bound (at once if none is). */
  whenDrained(): Promise<void> | null {
    const full = [...this.sinks.values()].filter((s) => s.full());
    if (full.length === 0) return null;
    return Promise.all(full.map((s) => new Promise<void>((resolve) => s.onceDrained(resolve)))).then(() => undefined);
  }

  /** Reopen every file at its path (logrotate's `postrotate kill -USR2`). */
  reopen(): void {
    for (const sink of this.sinks.values()) sink.reopen();
  }

  /** Write out what is buffered, as far as it can be done synchronously (append-mode files). */
  flushSync(): void {
    for (const sink of this.sinks.values()) sink.flushSync();
  }

  /** Write out and close every file (rotating files finish asynchronously). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sinks.values()].map((s) => s.close()));
    this.sinks.clear();
  }

  /** `nsup logs <app> --flush`: empty the app's files, delete their rotated copies; returns the paths. */
  async empty(app: string): Promise<string[]> {
    const paths = this.files(app).map((f) => f.path);
    await Promise.all(paths.map((path) => this.sinks.get(path)?.empty() ?? emptyFile(path)));
    return paths;
  }

  private sink(app: string, path: string, rotate: LogOptions['rotate']): Sink {
    let sink = this.sinks.get(path);
    if (!sink) {
      const onError = (error: NodeJS.ErrnoException) => this.onError(app, path, error);
      sink = rotate ? rotatingSink(path, rotate, onError) : appendSink(path, onError);
      this.sinks.set(path, sink);
    }
    return sink;
  }
}

/** Empty `path` and delete its rotated siblings (the reader's module, loaded only for a --flush). */
async function emptyFile(path: string): Promise<void> {
  await (await import('./read-logs.ts')).emptyLogFile(path);
}

// An append-mode file without rotation: sonic-boom through the contained destination.
function appendSink(path: string, onError: (error: NodeJS.ErrnoException) => void): Sink {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch {
    // the open reports it
  }
  const open = (): SafeDestination => safeDestination({ dest: path, append: true, mkdir: true, sync: false, minLength: 0, mode: 0o600 }, { onError });
  let d = open();
  return {
    path,
    // A failing file (full disk) never holds its writers back: its lines are retried, then dropped.
    write: (line) => d.write(line),
    full: () => d.full(),
    onceDrained: (fn) => d.onceDrained(fn),
    reopen: () => {
      try {
        d.dest.reopen();
      } catch (error) {
        // A file that never opened (its directory was unwritable) cannot be reopened: start it
        // afresh, so fixing the permissions and sending SIGUSR2 brings it back.
        onError(error as NodeJS.ErrnoException);
        d = open();
      }
    },
    flushSync: () => d.dest.flushSync(),
    close: () => {
      d.dest.flushSync();
      d.dest.end();
      return Promise.resolve();
    },
    empty: () => {
      d.dest.flushSync();
      return emptyFile(path);
    },
  };
}

// A rotating file. Reopen (SIGUSR2) and empty (--flush) replace the stream; lines written
// meanwhile wait in a bounded queue, so none goes to the old file after it was emptied.
function rotatingSink(path: string, rotate: NonNullable<LogOptions['rotate']>, onError: (error: NodeJS.ErrnoException) => void): Sink {
  const base = basename(path);
  const gz = rotate.compress ? '.gz' : '';
  const waiting: Array<() => void> = [];
  const create = (): RotatingFileStream => {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    } catch (error) {
      onError(error as NodeJS.ErrnoException);
    }
    // Loaded with the first rotating file (about 4 MB of the primary's RSS): a foreground
    // supervisor without log files never pays it.
    const { createStream } = createRequire(import.meta.url)('rotating-file-stream') as typeof import('rotating-file-stream');
    // Classical rotation (`rotate`): the generator gets the index alone, null for the current file.
    const name = (index: number | Date | null) => (index === null ? base : `${base}.${String(index)}${gz}`);
    const stream = createStream(name, {
      path: dirname(path),
      size: `${rotate.sizeBytes}B`,
      ...(rotate.every ? { interval: rotate.every as `${number}d` } : {}),
      rotate: rotate.keep,
      ...(rotate.compress ? { compress: 'gzip' as const } : {}),
      mode: 0o600,
    });
    let failing = false;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (!failing) onError(error);
      failing = true;
    });
    stream.on('warning', (error: NodeJS.ErrnoException) => onError(error));
    stream.on('drain', () => waiting.splice(0).forEach((fn) => fn()));
    return stream;
  };
  let stream: RotatingFileStream | null = create();
  let queue: string[] = [];
  let queued = 0;
  // rotating-file-stream awaits one file write per chunk (measured: 38 µs a line, one line per
  // chunk): the lines of one turn of the event loop go out as one chunk.
  // (At most an eighth of the size limit: a file passes the limit by less than that.)
  const batchLimit = Math.max(1, Math.min(BATCH_BYTES, Math.floor(rotate.sizeBytes / 8)));
  let batch: string[] = [];
  let batched = 0;
  let scheduled = false;
  const usable = () => stream !== null && !stream.destroyed && !stream.writableEnded;
  const writeBatch = () => {
    scheduled = false;
    if (batch.length === 0) return;
    const text = batch.join('');
    batch = [];
    batched = 0;
    if (usable()) stream!.write(text);
  };
  // End the stream, then run `between` and write the queue to a new one.
  const replace = async (between: () => Promise<void> | void) => {
    writeBatch();
    const old = stream;
    stream = null;
    if (old && !old.destroyed) await endStream(old);
    await between();
    stream = create();
    const lines = queue;
    queue = [];
    queued = 0;
    if (lines.length > 0) stream.write(lines.join(''));
  };
  return {
    path,
    write: (line) => {
      if (stream === null) {
        if (queued + line.length <= QUEUE_LIMIT_BYTES) {
          queue.push(line);
          queued += line.length;
        }
        return true;
      }
      if (!usable()) return true; // failed: reported once; SIGUSR2 makes a new one
      batch.push(line);
      batched += line.length;
      if (batched >= batchLimit) writeBatch();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(writeBatch);
      }
      return !stream.writableNeedDrain;
    },
    full: () => usable() && stream!.writableNeedDrain,
    onceDrained: (fn) => (usable() && stream!.writableNeedDrain ? waiting.push(fn) : fn()),
    reopen: () => void replace(() => {}),
    flushSync: () => {},
    close: async () => {
      writeBatch();
      const old = stream;
      stream = null;
      if (old && !old.destroyed) await endStream(old);
      waiting.splice(0).forEach((fn) => fn());
    },
    empty: () => replace(() => emptyFile(path)),
  };
}

// Resolves once the stream wrote everything and closed (or failed), at most 2 s later.
function endStream(stream: RotatingFileStream): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    stream.once('finish', done);
    stream.once('error', done);
    stream.end();
  });
}
