// Control socket wire format: framing round trips, split and merged chunks, bad input never throws.
import { describe, expect, it } from 'vitest';
import { FrameDecoder, MAX_FRAME_BYTES, PROTOCOL_VERSION, encodeFrame, parseRequest, type DecodedItem } from '../../src/control/protocol.ts';
import { ProtocolError } from '../../src/errors.ts';
import { seededRandom } from '../helpers/fake-cluster.ts';

const values = (items: DecodedItem[]): unknown[] => items.map((item) => (item.ok ? item.value : item.error));

describe('encodeFrame / FrameDecoder', () => {
  it('round-trips a value with a big-endian length prefix', () => {
    const value = { v: 1, id: 7, cmd: 'status', args: { name: 'wéb ✓' } };
    const frame = encodeFrame(value);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    const decoder = new FrameDecoder();
    expect(decoder.push(frame)).toEqual([{ ok: true, value }]);
    expect(decoder.pending()).toBe(0);
  });

  it('reassembles a frame split at every byte boundary', () => {
    const value = { v: 1, id: 1, ok: true, result: { text: 'héllo', list: [1, 2, 3] } };
    const frame = encodeFrame(value);
    for (let cut = 0; cut <= frame.length; cut++) {
      const decoder = new FrameDecoder();
      const first = decoder.push(frame.subarray(0, cut));
      expect(decoder.pending()).toBe(cut === frame.length ? 0 : cut);
      const second = decoder.push(frame.subarray(cut));
      expect([...first, ...second]).toEqual([{ ok: true, value }]);
      expect(decoder.pending()).toBe(0);
    }
  });

  it('decodes a frame fed one byte at a time', () => {
    const frame = encodeFrame({ line: 'x'.repeat(300) });
    const decoder = new FrameDecoder();
    const items = [...frame].flatMap((byte) => decoder.push(Buffer.from([byte])));
    expect(values(items)).toEqual([{ line: 'x'.repeat(300) }]);
  });

  it('decodes several frames in one chunk, keeping a trailing partial frame', () => {
    const next = encodeFrame('third');
    const chunk = Buffer.concat([encodeFrame(1), encodeFrame({ a: null }), encodeFrame([]), next.subarray(0, 5)]);
    const decoder = new FrameDecoder();
    expect(values(decoder.push(chunk))).toEqual([1, { a: null }, []]);
    expect(decoder.pending()).toBe(5);
    expect(values(decoder.push(next.subarray(5)))).toEqual(['third']);
  });

  it('reports an oversized length prefix once, then stops decoding the stream', () => {
    const decoder = new FrameDecoder();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1);
    const items = decoder.push(Buffer.concat([encodeFrame('before'), header, encodeFrame('after')]));
    expect(items).toHaveLength(2);
    expect(items[0]).toEqual({ ok: true, value: 'before' });
    const bad = items[1]!;
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toBeInstanceOf(ProtocolError);
      expect(bad.error.code).toBe('NSUP_ERR_CONTROL_PROTOCOL');
      expect(bad.error.message).toContain(`${MAX_FRAME_BYTES + 1}`);
    }
    expect(decoder.failed).toBe(true);
    expect(decoder.pending()).toBe(0);
    expect(decoder.push(encodeFrame('later'))).toEqual([]);
  });

  it('rejects an HTTP request (its first bytes read as a huge length)', () => {
    const decoder = new FrameDecoder();
    const [item] = decoder.push(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(item?.ok).toBe(false);
    expect(decoder.failed).toBe(true);
  });

  it('accepts a frame of exactly MAX_FRAME_BYTES', () => {
    const text = 'a'.repeat(MAX_FRAME_BYTES - 2);
    const decoder = new FrameDecoder();
    expect(values(decoder.push(encodeFrame(text)))).toEqual([text]);
    expect(() => encodeFrame(`${text}a`)).toThrow(ProtocolError);
  });

  it('skips malformed JSON and invalid UTF-8 inside well-formed frames and keeps going', () => {
    const decoder = new FrameDecoder();
    const items = decoder.push(Buffer.concat([rawFrame(Buffer.from('{"v":1,')), rawFrame(Buffer.from([0xff, 0xfe])), rawFrame(Buffer.alloc(0)), encodeFrame({ ok: 1 })]));
    expect(items.map((item) => item.ok)).toEqual([false, false, false, true]);
    for (const item of items.slice(0, 3)) if (!item.ok) expect(item.error).toBeInstanceOf(ProtocolError);
    expect(items[0]!.ok ? '' : items[0]!.error.message).toMatch(/not valid JSON/);
    expect(items[1]!.ok ? '' : items[1]!.error.message).toMatch(/not valid UTF-8/);
    expect(decoder.failed).toBe(false);
  });

  it('refuses to encode values that are not JSON', () => {
    expect(() => encodeFrame(undefined)).toThrow(ProtocolError);
    expect(() => encodeFrame(10n)).toThrow(ProtocolError);
  });
});

describe('parseRequest', () => {
  it('accepts a request and keeps only known fields', () => {
    expect(parseRequest({ v: 1, id: 3, cmd: 'status', extra: true })).toEqual({ ok: true, request: { v: 1, id: 3, cmd: 'status' } });
    expect(parseRequest({ v: 1, id: 0, cmd: 'scale', args: { name: 'web', n: 2 } })).toEqual({
      ok: true,
      request: { v: 1, id: 0, cmd: 'scale', args: { name: 'web', n: 2 } },
    });
  });

  const cases: Array<[string, unknown, number | null, RegExp]> = [
    ['a non-object', [1, 2], null, /must be a JSON object.*got \[1,2\] \(array\)/],
    ['null', null, null, /must be a JSON object.*got null/],
    ['a missing version', { id: 4, cmd: 'status' }, 4, /no protocol version "v"; this nsup understands v: 1/],
    ['a wrong version', { v: 2, id: 5, cmd: 'status' }, 5, /version v: 2 \(number\); this nsup understands only v: 1/],
    ['a string version', { v: '1', id: 5, cmd: 'status' }, 5, /version v: "1" \(string\)/],
    ['a missing id', { v: 1, cmd: 'status' }, null, /"id" must be an integer, got nothing/],
    ['a fractional id', { v: 1, id: 1.5, cmd: 'status' }, null, /"id" must be an integer, got 1.5 \(number\)/],
    ['a string id', { v: 1, id: '1', cmd: 'status' }, null, /"id" must be an integer, got "1" \(string\)/],
    ['a missing cmd', { v: 1, id: 6 }, 6, /"cmd" must be a non-empty string.*got nothing/],
    ['a numeric cmd', { v: 1, id: 6, cmd: 42 }, 6, /"cmd" must be a non-empty string.*got 42 \(number\)/],
    ['array args', { v: 1, id: 7, cmd: 'stop', args: ['web'] }, 7, /"args" must be an object.*got \["web"\] \(array\)/],
    ['null args', { v: 1, id: 7, cmd: 'stop', args: null }, 7, /"args" must be an object.*got null/],
  ];
  for (const [what, value, id, message] of cases) {
    it(`rejects ${what}`, () => {
      const parsed = parseRequest(value);
      expect(parsed.ok).toBe(false);
      if (parsed.ok) return;
      expect(parsed.id).toBe(id);
      expect(parsed.error).toBeInstanceOf(ProtocolError);
      expect(parsed.error.message).toMatch(message);
    });
  }

  it('uses PROTOCOL_VERSION 1', () => {
    expect(PROTOCOL_VERSION).toBe(1);
  });
});

describe('fuzz: random bytes and random JSON never throw', () => {
  it('survives 2,000 random buffers and values', () => {
    const random = seededRandom(0x5eed); // seeded: a failing fuzz case reproduces
    const int = (n: number): number => Math.floor(random() * n);
    for (let round = 0; round < 2000; round++) {
      const decoder = new FrameDecoder();
      const parts: Buffer[] = [];
      for (let i = int(4); i >= 0; i--) {
        const kind = int(4);
        if (kind === 0) parts.push(randomBytes(int(64), random));
        else if (kind === 1) parts.push(encodeFrame(randomJson(random, 3)));
        else if (kind === 2) parts.push(rawFrame(randomBytes(int(32), random)));
        else parts.push(encodeFrame({ v: int(3), id: random() < 0.8 ? int(100) : 'x', cmd: random() < 0.8 ? 'status' : randomJson(random, 1), args: randomJson(random, 2) }));
      }
      const stream = Buffer.concat(parts);
      let offset = 0;
      const items: DecodedItem[] = [];
      while (offset < stream.length) {
        const size = 1 + int(40);
        items.push(...decoder.push(stream.subarray(offset, offset + size)));
        offset += size;
        expect(decoder.pending()).toBeLessThanOrEqual(MAX_FRAME_BYTES + 4);
      }
      for (const item of items) {
        if (!item.ok) {
          expect(item.error).toBeInstanceOf(ProtocolError);
          continue;
        }
        const parsed = parseRequest(item.value);
        if (parsed.ok) expect(parsed.request.v).toBe(1);
        else expect(parsed.error).toBeInstanceOf(ProtocolError);
      }
    }
  });
});

// --- helpers ---

function rawFrame(body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}


function randomBytes(n: number, random: () => number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  return out;
}

function randomJson(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 0 ? 8 : 6));
  switch (pick) {
    case 0: return null;
    case 1: return random() < 0.5;
    case 2: return Math.floor(random() * 2000) - 1000;
    case 3: return random() * 1e6;
    case 4: return String.fromCharCode(...Array.from({ length: Math.floor(random() * 8) }, () => Math.floor(random() * 0xd7ff)));
    case 5: return 'status';
    case 6: return Array.from({ length: Math.floor(random() * 4) }, () => randomJson(random, depth - 1));
    default: return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, i) => [['v', 'id', 'cmd', 'args'][i] ?? `k${i}`, randomJson(random, depth - 1)]));
  }
}
