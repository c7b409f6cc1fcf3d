// One app's records as the supervisor streams them (the control socket's `logs` with follow, as
// `nsup logs -f` reads them), kept in a bounded ring, with a way to stop: monit switches apps as
// the selection moves. client.ts's request() cannot be cancelled, hence this small reader.
const net = process.getBuiltinModule('node:net');
import { FrameDecoder, PROTOCOL_VERSION, encodeFrame } from '../control/protocol.ts';

/** A record as monit shows it (a subset of LogRecord). */
export interface OutputLine {
  time: number;
  stream: 'out' | 'err' | 'nsup';
  worker?: number;
  pid?: number;
  msg: string;
}

/** How many records of the followed app are kept (the output pane shows a screenful of one worker's). */
export const KEPT_LINES = 2000;
// The records asked for when the follow starts: what the supervisor remembers of the app (it keeps 1000).
const BACKLOG_LINES = 1000;

/** Follows one app of one supervisor until close(); `onLines` is called after each chunk of records. */
export class AppFollow {
  readonly app: string;
  readonly path: string;
  private readonly lines: OutputLine[] = [];
  private readonly socket: import('node:net').Socket;
  private closed = false;
  /** Why the follow ended, when it did by itself (the supervisor stopped, refused). */
  ended: string | null = null;

  constructor(path: string, app: string, onLines: () => void) {
    this.app = app;
    this.path = path;
    const decoder = new FrameDecoder();
    this.socket = net.connect(path);
    this.socket.on('connect', () => this.socket.write(encodeFrame({ v: PROTOCOL_VERSION, id: 1, cmd: 'logs', args: { app, lines: BACKLOG_LINES, follow: true } })));
    this.socket.on('data', (chunk) => {
      let added = false;
      for (const item of decoder.push(chunk)) {
        if (!item.ok) return this.end(item.error.message);
        const frame = item.value as { stream?: string; line?: string; ok?: boolean; error?: { message: string } };
        if (frame.stream === 'line' && typeof frame.line === 'string') added = this.add(frame.line) || added;
        else if (frame.ok === false) return this.end(frame.error?.message ?? 'refused');
        else if (frame.ok === true) return this.end('the supervisor ended the stream');
      }
      if (added) onLines();
    });
    this.socket.on('error', (error) => this.end(error.message));
    this.socket.on('close', () => this.end('the supervisor closed the connection'));
  }

  /** The last `n` records of one worker slot (its output, and nsup's events about it). */
  of(worker: number, n: number): OutputLine[] {
    const found: OutputLine[] = [];
    for (let i = this.lines.length - 1; i >= 0 && found.length < n; i--) {
      const line = this.lines[i]!;
      if (line.worker === worker) found.push(line);
    }
    return found.reverse();
  }

  /** Stop following (idempotent). */
  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private add(json: string): boolean {
    let record: Partial<OutputLine> & { job?: string };
    try {
      record = JSON.parse(json) as typeof record;
    } catch {
      return false;
    }
    // Jobs' lines have no slot: they are not any worker's output.
    if (typeof record.msg !== 'string' || typeof record.worker !== 'number') return false;
    this.lines.push({ time: typeof record.time === 'number' ? record.time : NaN, stream: record.stream ?? 'out', worker: record.worker, ...(typeof record.pid === 'number' ? { pid: record.pid } : {}), msg: record.msg });
    if (this.lines.length > KEPT_LINES * 1.5) this.lines.splice(0, this.lines.length - KEPT_LINES);
    return true;
  }

  private end(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ended = reason;
    this.socket.destroy();
  }
}
