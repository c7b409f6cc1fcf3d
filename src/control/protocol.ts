// The control socket's wire format: each frame is a 4-byte unsigned big-endian length, then that
// many bytes of UTF-8 JSON. Decoding never throws: bad input becomes a ProtocolError item.
import { ProtocolError } from '../errors.ts';

/** Version of the request/response shapes; every frame carries it as `v`. */
export const PROTOCOL_VERSION = 1;

/** Largest JSON body one frame may carry; a bigger length prefix means the peer is not speaking nsup. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Bytes in the length prefix. */
const HEADER_BYTES = 4;

/** A command sent by a client (`nsup status`, `nsup reload web`, …). */
export interface ControlRequest {
  v: 1;
  /** Chosen by the client; echoed in the response so replies can be matched to requests. */
  id: number;
  cmd: string;
  args?: Record<string, unknown>;
}

/** The supervisor's one reply to a request; `id` is null when the request's id could not be read. */
export type ControlResponse =
  | { v: 1; id: number; ok: true; result: unknown }
  | { v: 1; id: number | null; ok: false; error: { code: string; message: string } };

/** One line of a followed log (`nsup logs -f`), sent before the final response with the same id. */
export interface ControlStreamLine {
  v: 1;
  id: number;
  stream: 'line';
  line: string;
}

/** One result of decoding: a parsed JSON value, or why a frame was rejected. */
export type DecodedItem = { ok: true; value: unknown } | { ok: false; error: ProtocolError };

/** Result of validating a decoded value as a request; `id` lets the error reply be matched. */
export type ParsedRequest = { ok: true; request: ControlRequest } | { ok: false; error: ProtocolError; id: number | null };

// Serialise one value as a frame; throws ProtocolError if it cannot be JSON or is too big to send.
export function encodeFrame(value: unknown): Buffer {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
    throw new ProtocolError(`Cannot encode a control frame: ${(cause as Error).message}. Send plain JSON data.`, { cause });
  }
  if (json === undefined) {
    throw new ProtocolError(`Cannot encode a control frame from ${typeof value}; send a JSON value (object, array, string, number, boolean or null).`);
  }
  const body = Buffer.from(json, 'utf8');
  if (body.length > MAX_FRAME_BYTES) {
    throw new ProtocolError(`Control frame of ${body.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit; send less data per message.`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

// Incremental decoder for one stream: feed it socket chunks, get back whole frames.
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Body length of the frame being read, once its prefix has arrived. */
  #bodyLength: number | null = null;
  #failed = false;

  /** True after an oversized length prefix: framing is lost and the stream should be closed. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Bytes received but not yet part of a whole frame (non-zero at end of stream = truncated frame). */
  pending(): number {
    return this.#buffered + (this.#bodyLength === null ? 0 : HEADER_BYTES);
  }

  /** Add a chunk; returns the frames it completed, in order. */
  push(chunk: Buffer): DecodedItem[] {
    if (this.#failed) return [];
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const items: DecodedItem[] = [];
    for (;;) {
      if (this.#bodyLength === null) {
        if (this.#buffered < HEADER_BYTES) break;
        const header = this.#take(HEADER_BYTES);
        const length = header.readUInt32BE(0);
        if (length > MAX_FRAME_BYTES) {
          items.push({ ok: false, error: oversized(length, header) });
          this.#fail();
          break;
        }
        this.#bodyLength = length;
      }
      if (this.#buffered < this.#bodyLength) break;
      const body = this.#take(this.#bodyLength);
      this.#bodyLength = null;
      items.push(decodeBody(body));
    }
    return items;
  }

  /** Remove and return the first `n` buffered bytes (n <= #buffered). */
  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return out;
  }

  /** Drop everything: after a bad prefix no later byte can be trusted to start a frame. */
  #fail(): void {
    this.#failed = true;
    this.#chunks = [];
    this.#buffered = 0;
    this.#bodyLength = null;
  }
}

// Check that a decoded value is a well-formed request; never throws.
export function parseRequest(value: unknown): ParsedRequest {
  if (!isPlainObject(value)) {
    return reject(null, `Control request must be a JSON object like {"v":${PROTOCOL_VERSION},"id":1,"cmd":"status"}, got ${describe(value)}.`);
  }
  const id = Number.isSafeInteger(value.id) ? (value.id as number) : null;
  if (!('v' in value)) {
    return reject(id, `Control request has no protocol version "v"; this nsup understands v: ${PROTOCOL_VERSION}. Use the nsup CLI that matches the running supervisor.`);
  }
  if (value.v !== PROTOCOL_VERSION) {
    return reject(id, `Control request has protocol version v: ${describe(value.v)}; this nsup understands only v: ${PROTOCOL_VERSION}. Use the nsup CLI that matches the running supervisor.`);
  }
  if (id === null) {
    const got = 'id' in value ? describe(value.id) : 'nothing';
    return reject(null, `Control request "id" must be an integer, got ${got}. Send a number that is unique per connection, e.g. "id": 1.`);
  }
  if (typeof value.cmd !== 'string' || value.cmd === '') {
    const got = 'cmd' in value ? describe(value.cmd) : 'nothing';
    return reject(id, `Control request "cmd" must be a non-empty string such as "status", got ${got}.`);
  }
  if (value.args !== undefined && !isPlainObject(value.args)) {
    return reject(id, `Control request "args" must be an object of named arguments (or left out), got ${describe(value.args)}.`);
  }
  const request: ControlRequest = { v: PROTOCOL_VERSION, id, cmd: value.cmd };
  if (value.args !== undefined) request.args = value.args as Record<string, unknown>;
  return { ok: true, request };
}

// --- helpers ---

function reject(id: number | null, message: string): ParsedRequest {
  return { ok: false, id, error: new ProtocolError(message) };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeBody(body: Buffer): DecodedItem {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch (cause) {
    return { ok: false, error: new ProtocolError(`Control frame of ${body.length} bytes is not valid UTF-8; skipped it. Send JSON text encoded as UTF-8.`, { cause }) };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (cause) {
    const reason = (cause as Error).message;
    return { ok: false, error: new ProtocolError(`Control frame of ${body.length} bytes is not valid JSON (${reason}); skipped it. Send one JSON value per frame.`, { cause }) };
  }
}

function oversized(length: number, header: Buffer): ProtocolError {
  const hex = [...header].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return new ProtocolError(
    `Control frame length prefix ${length} (bytes ${hex}) exceeds the ${MAX_FRAME_BYTES}-byte limit; ` +
      'the peer is not speaking the nsup control protocol, so the connection cannot be read further. Make sure only nsup writes to this socket.',
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `"2" (string)`, `null`, `[1] (array)`: the received value and its type, kept short. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  const type = Array.isArray(value) ? 'array' : typeof value;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  return `${text} (${type})`;
}
