// Cuts a byte stream into whole lines: at each newline, at a maximum length (a line longer than
// that is written in pieces), and after a short quiet time (a prompt or progress output written
// without a newline shows up without waiting for the next one). Holds at most one piece in memory.

/** Longest line kept whole; longer ones are cut into pieces of this many bytes (at a UTF-8 character boundary). */
export const MAX_LINE_BYTES = 64 * 1024;
/** How long a partial line waits for the rest before it is written as it is. */
export const PARTIAL_FLUSH_MS = 200;

/** Feeds bytes in, calls `onLine` with each line (without its newline or a trailing CR). */
export class LineSplitter {
  private readonly parts: Buffer[] = [];
  private pending = 0;
  private timer: NodeJS.Timeout | null = null;
  // Counts pushes, so that a flush decided before the latest one is dropped.
  private pushes = 0;
  private held = false;
  private readonly onLine: (line: string) => void;
  private readonly maxBytes: number;
  private readonly idleMs: number;

  constructor(onLine: (line: string) => void, opts: { maxBytes?: number; idleMs?: number } = {}) {
    this.onLine = onLine;
    this.maxBytes = opts.maxBytes ?? MAX_LINE_BYTES;
    this.idleMs = opts.idleMs ?? PARTIAL_FLUSH_MS;
  }

  /** Take a chunk of output. */
  push(chunk: Buffer): void {
    this.pushes++;
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.add(chunk.subarray(start, nl));
      this.emit(true);
      start = nl + 1;
    }
    if (start < chunk.length) this.add(chunk.subarray(start));
    if (this.pending > 0) this.arm();
    else this.disarm();
  }

  /**
   * While held (its stream is paused for backpressure, so the rest of a line may wait unread in
   * the pipe), a partial line is not written for being quiet; released, the quiet time starts again.
   */
  hold(held: boolean): void {
    this.held = held;
    if (held) this.disarm();
    else if (this.pending > 0) this.arm();
  }

  /** The stream ended: write what is left. */
  end(): void {
    this.disarm();
    if (this.pending > 0) this.emit(false);
  }

  // Append bytes of the current line, writing out full pieces as they reach the maximum.
  private add(bytes: Buffer): void {
    let rest = bytes;
    while (this.pending + rest.length > this.maxBytes) {
      let cut = boundary(rest, this.maxBytes - this.pending);
      // Not even one character fits next to what is pending: write that first. (Invalid UTF-8 that
      // has no boundary at all is cut at the maximum.)
      if (cut === 0 && this.pending === 0) cut = Math.min(this.maxBytes, rest.length);
      this.parts.push(rest.subarray(0, cut));
      this.pending += cut;
      this.emit(false);
      rest = rest.subarray(cut);
    }
    if (rest.length > 0) {
      // Copy: the chunk's memory is the stream's, and a partial line may outlive it.
      this.parts.push(Buffer.from(rest));
      this.pending += rest.length;
    }
  }

  private emit(wholeLine: boolean): void {
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pending);
    this.parts.length = 0;
    this.pending = 0;
    // Whole lines and pieces cut between characters are complete UTF-8 (invalid bytes become U+FFFD).
    let line = buf.toString('utf8');
    if (wholeLine && line.endsWith('\r')) line = line.slice(0, -1);
    this.onLine(line);
  }

  private arm(): void {
    this.disarm();
    if (this.held) return;
    const pushes = this.pushes;
    this.timer = setTimeout(() => {
      this.timer = null;
      // Timers run before the event loop reads pipes: when the primary was busy, the rest of the
      // line may be waiting there. Decide after the read (setImmediate runs after the poll phase).
      setImmediate(() => {
        if (this.pending > 0 && this.pushes === pushes && !this.held) this.emit(false);
      });
    }, this.idleMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

// The largest cut <= max that does not split a UTF-8 character (continuation bytes are 10xxxxxx).
function boundary(bytes: Buffer, max: number): number {
  let cut = Math.min(max, bytes.length);
  if (cut >= bytes.length) return cut;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return cut;
}
