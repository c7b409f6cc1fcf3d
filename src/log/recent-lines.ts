// A short memory of each app's recent records (worker lines and supervisor events), and
// followers of new ones (`nsup logs -f`). Bounded by count and by size: a worker writing
// megabyte lines cannot grow it past `maxBytes` per app.
import { headOf, type LogRecord } from './record.ts';

// A record's message is kept up to this many characters in memory (the files keep it whole).
const KEPT_MSG_CHARS = 1024;

/** Per-app ring buffers of the last records, with live followers. */
export class RecentLines {
  private readonly rings = new Map<string, { records: LogRecord[]; chars: number }>();
  private readonly followers = new Map<string, Set<(record: LogRecord) => void>>();
  private readonly capacity: number;
  private readonly maxChars: number;

  constructor(capacity: number, maxChars = 1024 * 1024) {
    this.capacity = capacity;
    this.maxChars = maxChars;
  }

  /** Remember a record of `app` and hand it to its followers. */
  push(app: string, record: LogRecord): void {
    let ring = this.rings.get(app);
    if (!ring) this.rings.set(app, (ring = { records: [], chars: 0 }));
    const kept = record.msg.length > KEPT_MSG_CHARS ? { ...record, msg: `${headOf(record.msg, KEPT_MSG_CHARS)}… (${record.msg.length} characters; the log file has it whole)`, fields: undefined } : record;
    ring.records.push(kept);
    ring.chars += kept.msg.length;
    while (ring.records.length > this.capacity || ring.chars > this.maxChars) ring.chars -= ring.records.shift()!.msg.length;
    for (const fn of this.followers.get(app) ?? []) fn(record);
  }

  /** A record that concerns every app (supervisor start and stop). */
  pushAll(record: LogRecord): void {
    for (const app of new Set([...this.rings.keys(), ...this.followers.keys()])) this.push(app, record);
  }

  /** The last `n` records of `app` (all when n < 0), oldest first. */
  last(app: string, n: number): LogRecord[] {
    const records = this.rings.get(app)?.records ?? [];
    return n < 0 ? [...records] : n === 0 ? [] : records.slice(-n);
  }

  /** Forget what `app` logged (`nsup logs --flush`). */
  clear(app: string): void {
    this.rings.delete(app);
  }

  /** Follow `app`'s new records; returns the unsubscribe function. */
  follow(app: string, fn: (record: LogRecord) => void): () => void {
    let set = this.followers.get(app);
    if (!set) this.followers.set(app, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }
}

