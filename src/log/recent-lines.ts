// A short memory of each app's recent output lines, and followers of new ones (`nsup logs -f`).

/** Per-app ring buffers of the last `capacity` lines, with live followers. */
export class RecentLines {
  private readonly lines = new Map<string, string[]>();
  private readonly followers = new Map<string, Set<(line: string) => void>>();
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Remember a line of `app` and hand it to its followers. */
  push(app: string, line: string): void {
    let ring = this.lines.get(app);
    if (!ring) this.lines.set(app, (ring = []));
    ring.push(line);
    if (ring.length > this.capacity) ring.splice(0, ring.length - this.capacity);
    for (const fn of this.followers.get(app) ?? []) fn(line);
  }

  /** A line that concerns every app (supervisor start and stop). */
  pushAll(line: string): void {
    for (const app of new Set([...this.lines.keys(), ...this.followers.keys()])) this.push(app, line);
  }

  /** The last `n` lines of `app`, oldest first. */
  last(app: string, n: number): string[] {
    const ring = this.lines.get(app) ?? [];
    return n <= 0 ? [] : ring.slice(-n);
  }

  /** Follow `app`'s new lines; returns the unsubscribe function. */
  follow(app: string, fn: (line: string) => void): () => void {
    let set = this.followers.get(app);
    if (!set) this.followers.set(app, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }
}
