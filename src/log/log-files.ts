// Daemon mode's log files: `<app>.log` per app in the runtime dir, reopened on SIGUSR2 (after
// logrotate moved them) and, with a size cap, rotated to `<app>.log.1` by nsup itself.
import { renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { safeDestination, type Destination } from './safe-destination.ts';

/** Told about a log file that cannot be opened or written (once per failure spell). */
export type LogFileErrorHandler = (app: string, path: string, error: NodeJS.ErrnoException) => void;

interface LogFile {
  dest: Destination;
  bytes: number;
  path: string;
}

/** One append-mode file per app; lines without an app go to every app's file. */
export class LogFiles {
  private readonly files = new Map<string, LogFile>();
  private readonly dir: string;
  private readonly maxBytes: number | null;
  private readonly onError: LogFileErrorHandler;

  constructor(dir: string, maxBytes: number | null, onError: LogFileErrorHandler = () => {}) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.onError = onError;
  }

  /** Open (or create) the file of `app` now, so it exists before the first line. */
  open(app: string): void {
    this.file(app);
  }

  /** Append one line to `app`'s file, or to every file when `app` is undefined. */
  write(app: string | undefined, line: string): void {
    const targets = app === undefined ? [...this.files.keys()] : [app];
    for (const name of targets) {
      const file = this.file(name);
      file.dest.write(line + '\n');
      file.bytes += Buffer.byteLength(line) + 1;
      if (this.maxBytes !== null && file.bytes > this.maxBytes) this.rotate(file);
    }
  }

  /** Reopen every file at its path (logrotate's `postrotate kill -USR2`). */
  reopen(): void {
    for (const [app, file] of this.files) {
      try {
        file.dest.reopen();
        file.bytes = sizeOf(file.path);
      } catch (error) {
        // A file that never opened (its directory was unwritable) cannot be reopened: start it
        // afresh, so fixing the permissions and sending SIGUSR2 brings it back.
        this.onError(app, file.path, error as NodeJS.ErrnoException);
        this.files.set(app, this.create(app));
      }
    }
  }

  /** Write out what is buffered; skips (never hangs on) a file that is failing. */
  flush(): void {
    for (const file of this.files.values()) file.dest.flushSync();
  }

  private file(app: string): LogFile {
    let file = this.files.get(app);
    if (!file) {
      file = this.create(app);
      this.files.set(app, file);
    }
    return file;
  }

  private create(app: string): LogFile {
    const path = join(this.dir, `${app}.log`);
    const { dest } = safeDestination(
      { dest: path, append: true, mkdir: true, sync: false, minLength: 0, mode: 0o600 },
      { onError: (error) => this.onError(app, path, error) },
    );
    return { dest, bytes: sizeOf(path), path };
  }

  private rotate(file: LogFile): void {
    try {
      file.dest.flushSync();
      renameSync(file.path, `${file.path}.1`);
      file.dest.reopen();
    } catch {
      // Not rotated (the rename or the reopen failed): keep appending; the next line tries again.
      return;
    }
    file.bytes = 0;
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  } catch {
    return 0; // unreadable: the open reports it
  }
}
