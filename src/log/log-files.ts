// Daemon mode's log files: `<app>.log` per app in the runtime dir, reopened on SIGUSR2 (after
// logrotate moved them) and, with a size cap, rotated to `<app>.log.1` by nsup itself.
import { renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';

type Destination = ReturnType<typeof pino.destination>;

/** One append-mode file per app; lines without an app go to every app's file. */
export class LogFiles {
  private readonly files = new Map<string, { dest: Destination; bytes: number; path: string }>();
  private readonly dir: string;
  private readonly maxBytes: number | null;

  constructor(dir: string, maxBytes: number | null) {
    this.dir = dir;
    this.maxBytes = maxBytes;
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
    for (const file of this.files.values()) {
      file.dest.reopen();
      file.bytes = sizeOf(file.path);
    }
  }

  flush(): void {
    for (const file of this.files.values()) {
      try {
        file.dest.flushSync();
      } catch {
        // a full disk at exit: nothing more to do
      }
    }
  }

  private file(app: string) {
    let file = this.files.get(app);
    if (!file) {
      const path = join(this.dir, `${app}.log`);
      file = { dest: pino.destination({ dest: path, append: true, mkdir: true, sync: false, minLength: 0, mode: 0o600 }), bytes: sizeOf(path), path };
      this.files.set(app, file);
    }
    return file;
  }

  private rotate(file: { dest: Destination; bytes: number; path: string }): void {
    try {
      file.dest.flushSync();
      renameSync(file.path, `${file.path}.1`);
    } catch {
      return;
    }
    file.dest.reopen();
    file.bytes = 0;
  }
}

function sizeOf(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}
