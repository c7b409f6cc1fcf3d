// `nsup logs`'s reading side: an app's log files with their rotated siblings (gzip too) streamed
// line by line, several files merged in time order, and the last N lines that pass the filter
// (log-filter.ts) kept in a bounded ring. No sockets here: run-logs.ts asks the supervisor which
// files (or which memory) to read.
import { open, readdir, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { matches, type LogQuery } from './log-filter.ts';
import { formatRecord, LOG_STREAMS, parseLine, recordObject, type LogRecord } from './record.ts';

/** One line read back: the record if nsup wrote it, null for any other line (kept as written). */
export interface LogItem {
  readonly line: string;
  readonly record: LogRecord | null;
}

/** A line of a file, parsed when its record is first asked for (without a filter, only the lines printed are). */
export function itemOfLine(line: string): LogItem {
  return new LineItem(line);
}

/** A line of the supervisor's memory: `JSON.stringify(LogRecord)` (an older supervisor sends text lines). */
export function itemOfRecordJson(line: string): LogItem {
  try {
    const value = JSON.parse(line) as LogRecord;
    if (typeof value === 'object' && value !== null && typeof value.msg === 'string' && (LOG_STREAMS as readonly unknown[]).includes(value.stream)) {
      // JSON has no NaN: a record without a time comes back with null.
      return { line, record: { ...value, time: typeof value.time === 'number' ? value.time : NaN } };
    }
  } catch {
    // not JSON: read it as a file line
  }
  return itemOfLine(line);
}

/** The line `nsup logs` prints for an item: text with an ISO time, or (--json) the record's object; null to skip it. */
export function formatItem(item: LogItem, json: boolean): string | null {
  // A line that is not nsup's has no record to print as JSON: under --json it is left out, so
  // that every line printed parses.
  if (item.record === null) return json ? null : item.line;
  return json ? JSON.stringify(recordObject(item.record)) : formatRecord(item.record, { format: 'text', time: 'iso', priority: false });
}

/** The rotated siblings of `path` (`P.1`, `P.2.gz`, …), oldest (highest number) first. */
export async function rotatedSiblings(path: string): Promise<string[]> {
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return []; // no directory, no files
  }
  const found: Array<{ n: number; gz: boolean; name: string }> = [];
  for (const name of names) {
    if (!name.startsWith(base + '.')) continue;
    const m = /^(\d+)(\.gz)?$/.exec(name.slice(base.length + 1));
    if (m) found.push({ n: Number(m[1]), gz: m[2] !== undefined, name });
  }
  // Highest number first (both P.N and P.N.gz should never exist: the plain one first).
  found.sort((a, b) => b.n - a.n || Number(a.gz) - Number(b.gz));
  return found.map((f) => join(dirname(path), f.name));
}

/** `--flush`: empty `path` and delete its rotated siblings; returns the files emptied or deleted (absent ones are skipped). */
export async function emptyLogFile(path: string): Promise<string[]> {
  const done: string[] = [];
  const skipAbsent = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
    return null;
  };
  if ((await truncate(path, 0).catch(skipAbsent)) !== null) done.push(path);
  for (const sibling of await rotatedSiblings(path)) if ((await unlink(sibling).catch(skipAbsent)) !== null) done.push(sibling);
  return done;
}

/** One file's lines and its rotated siblings' in order (oldest first), as batches; missing files are skipped. */
export async function* readLogFiles(path: string, warn: (message: string) => void = () => {}): AsyncGenerator<LogItem[]> {
  const paths = [...(await rotatedSiblings(path)), path];
  // Open them all before reading any: a rotation while we read then cannot make us skip a file.
  const handles: Array<{ path: string; handle: FileHandle }> = [];
  for (const p of paths) {
    try {
      handles.push({ path: p, handle: await open(p, 'r') });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read ${p}: ${(error as Error).message}`);
    }
  }
  try {
    for (const { path: p, handle } of handles) {
      try {
        for await (const lines of linesOf(handle, p.endsWith('.gz'))) yield lines.map(itemOfLine);
      } catch (error) {
        // A truncated .gz (a rotation compressing it right now) must not hide the other files.
        warn(`skipped the rest of ${p}: ${(error as Error).message}`);
      }
    }
  } finally {
    await Promise.all(handles.map(({ handle }) => handle.close().catch(() => {})));
  }
}

/** Merge sources (each in time order) into one, by time; ties and lines without a time keep their source's order. */
export async function mergeByTime(sources: AsyncIterable<LogItem[]>[], onItem: (item: LogItem) => void): Promise<void> {
  if (sources.length === 1) {
    // Nothing to merge: the times are not needed, so lines are not parsed for them.
    for await (const batch of sources[0]!) for (const item of batch) onItem(item);
    return;
  }
  const cursors = sources.map((source) => new Cursor(source[Symbol.asyncIterator]()));
  try {
    await Promise.all(cursors.map((c) => c.fill()));
    for (;;) {
      let best: Cursor | undefined;
      for (const c of cursors) if (c.head && (!best || c.key < best.key)) best = c;
      if (!best) return;
      onItem(best.head!);
      best.advance();
      if (!best.head) await best.fill();
    }
  } finally {
    await Promise.all(cursors.map((c) => c.close()));
  }
}

/** Merge, filter and keep the last `limit` matching lines (all, streamed, when the limit is Infinity); each goes to `emit`. */
export async function selectLogs(sources: AsyncIterable<LogItem[]>[], query: LogQuery, emit: (item: LogItem) => void): Promise<number> {
  let count = 0;
  if (query.limit === Infinity) {
    await mergeByTime(sources, (item) => {
      if (matches(query.filter, item)) {
        count++;
        emit(item);
      }
    });
    return count;
  }
  const ring = new Ring<LogItem>(query.limit);
  await mergeByTime(sources, (item) => {
    if (matches(query.filter, item)) ring.push(item);
  });
  for (const item of ring.items()) {
    count++;
    emit(item);
  }
  return count;
}

/** A source from items already in memory (the supervisor's recent lines). */
export async function* fromItems(items: LogItem[]): AsyncGenerator<LogItem[]> {
  if (items.length > 0) yield items;
}

/** The last `capacity` values pushed, oldest first; memory is bounded by the capacity. */
export class Ring<T> {
  private readonly slots: T[] = [];
  private next = 0;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  push(value: T): void {
    if (this.capacity <= 0) return;
    if (this.slots.length < this.capacity) this.slots.push(value);
    else this.slots[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
  }

  items(): T[] {
    return this.slots.length < this.capacity ? [...this.slots] : [...this.slots.slice(this.next), ...this.slots.slice(0, this.next)];
  }
}

// --- helpers ---

// The lines of an open file (gunzipped if asked), in batches of one read chunk; '\r\n' ends a line too.
async function* linesOf(handle: FileHandle, gzip: boolean): AsyncGenerator<string[]> {
  const file = handle.createReadStream({ autoClose: false, highWaterMark: 64 * 1024 });
  let input: Readable = file;
  if (gzip) {
    const gunzip = createGunzip();
    file.on('error', (error) => gunzip.destroy(error));
    input = file.pipe(gunzip);
  }
  input.setEncoding('utf8');
  let rest = '';
  try {
    for await (const chunk of input as AsyncIterable<string>) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      if (lines.length > 0) yield lines.map(stripCr);
    }
    if (rest !== '') yield [stripCr(rest)];
  } finally {
    file.destroy();
    input.destroy();
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

// parseLine costs about 1.5 µs a line: a big file read for its last 20 lines parses only those.
class LineItem implements LogItem {
  readonly line: string;
  private parsed: LogRecord | null | undefined;

  constructor(line: string) {
    this.line = line;
  }

  get record(): LogRecord | null {
    if (this.parsed === undefined) this.parsed = parseLine(this.line);
    return this.parsed;
  }
}

// A source's next items, and its sort key: the time of its last timed line, so a line without a
// time stays right after the one before it.
class Cursor {
  private batch: LogItem[] = [];
  private index = 0;
  private done = false;
  key = -Infinity;
  head: LogItem | undefined;
  private readonly it: AsyncIterator<LogItem[]>;

  constructor(it: AsyncIterator<LogItem[]>) {
    this.it = it;
  }

  async fill(): Promise<void> {
    while (!this.done && this.index >= this.batch.length) {
      const next = await this.it.next();
      if (next.done) this.done = true;
      else {
        this.batch = next.value;
        this.index = 0;
      }
    }
    this.setHead();
  }

  advance(): void {
    this.index++;
    this.setHead();
  }

  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
  }

  private setHead(): void {
    this.head = this.batch[this.index];
    const time = this.head?.record?.time;
    if (time !== undefined && Number.isFinite(time)) this.key = time;
  }
}
