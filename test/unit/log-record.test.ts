// record.ts (a record as a line and back) and line-splitter.ts (whole lines, 64 KiB pieces, the
// partial-line flush), with fast-check over random records and random chunkings.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LineSplitter } from '../../src/log/line-splitter.ts';
import { formatRecord, formatTime, parseLine, priorityOf, recordObject, type LineStyle, type LogRecord } from '../../src/log/record.ts';

const worker: LogRecord = { time: Date.UTC(2026, 11, 1, 13, 26, 16, 123), app: 'web', worker: 0, pid: 4242, gen: 1, stream: 'out', msg: 'listening on 3000' };
const event: LogRecord = { time: worker.time, app: 'web', stream: 'nsup', level: 'warn', msg: 'worker 0 is slow', fields: { time: worker.time, level: 'warn', event: 'worker.slow-start', app: 'web', worker: 0, msg: 'worker 0 is slow' } };
const text: LineStyle = { format: 'text', time: 'iso', priority: false };
const json: LineStyle = { format: 'json', time: 'iso', priority: false };

describe('formatRecord', () => {
  it('text: time, app:slot, pid, gen and stream before the message; events say nsup and their level', () => {
    expect(formatRecord(worker, text)).toBe('2026-12-01T13:26:16.123Z web:0 pid=4242 gen=1 out | listening on 3000');
    expect(formatRecord(event, text)).toBe('2026-12-01T13:26:16.123Z web nsup warn | worker 0 is slow');
    expect(formatRecord({ ...event, app: undefined, level: 'info' }, { ...text, time: 'off' })).toBe('nsup info | worker 0 is slow');
  });

  it('json: one object with nsup\'s fields; an app\'s own JSON object merged, its time and msg kept, nsup\'s facts win', () => {
    expect(JSON.parse(formatRecord(worker, json))).toEqual({ time: '2026-12-01T13:26:16.123Z', app: 'web', worker: 0, pid: 4242, gen: 1, stream: 'out', msg: 'listening on 3000' });
    const pino = { level: 30, time: 1, pid: 1, msg: 'hello', user: 42 };
    expect(JSON.parse(formatRecord({ ...worker, msg: JSON.stringify(pino), fields: pino }, json))).toEqual({ time: 1, app: 'web', worker: 0, pid: 4242, gen: 1, stream: 'out', level: 30, msg: 'hello', user: 42 });
    expect(JSON.parse(formatRecord(event, json))).toEqual({ time: '2026-12-01T13:26:16.123Z', level: 'warn', event: 'worker.slow-start', app: 'web', worker: 0, msg: 'worker 0 is slow', stream: 'nsup' });
  });

  it('journald: a syslog priority instead of a time (3 stderr and errors, 4 warnings, 6 the rest)', () => {
    const journal: LineStyle = { format: 'text', time: 'off', priority: true };
    expect(formatRecord(worker, journal)).toBe('<6>web:0 pid=4242 gen=1 out | listening on 3000');
    expect(formatRecord({ ...worker, stream: 'err' }, journal)).toMatch(/^<3>web:0 .* err \| /);
    expect(formatRecord(event, journal)).toMatch(/^<4>web nsup warn \| /);
    expect([priorityOf({ ...event, level: 'error' }), priorityOf({ ...event, level: 'fatal' }), priorityOf({ ...event, level: 'debug' }), priorityOf({ ...event, level: 'info' })]).toEqual([3, 3, 7, 6]);
  });

  it("local time is ISO 8601 with the machine's offset, the same instant", () => {
    const local = formatTime(worker.time, 'local');
    expect(local).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    expect(Date.parse(local)).toBe(worker.time);
    expect(formatTime(worker.time, 'off')).toBe('');
  });
});

describe('parseLine', () => {
  const records = fc.record({
    time: fc.integer({ min: 0, max: 4102444800000 }),
    app: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/),
    worker: fc.nat(64),
    pid: fc.integer({ min: 1, max: 4194304 }),
    gen: fc.integer({ min: 1, max: 1000 }),
    stream: fc.constantFrom('out' as const, 'err' as const),
    msg: fc.string({ unit: 'grapheme', maxLength: 200 }).map((s) => s.replace(/[\r\n]/g, ' ')),
  });

  it('reads back every record it wrote, in each format, time mode and with priorities', () => {
    fc.assert(
      fc.property(records, fc.constantFrom<LineStyle['format']>('text', 'json'), fc.constantFrom<LineStyle['time']>('iso', 'local', 'off'), fc.boolean(), (record, format, time, priority) => {
        const back = parseLine(formatRecord(record, { format, time, priority }));
        expect(back).not.toBeNull();
        const { fields: _f, ...rest } = back!;
        expect(rest).toEqual({ ...record, time: time === 'off' ? NaN : record.time });
      }),
      { numRuns: 500 },
    );
  });

  // Issue 16: a job's lines carry its name instead of a slot (`web:backup pid=… out | …`, JSON `job`).
  const jobRecords = fc.record({
    time: fc.integer({ min: 0, max: 4102444800000 }),
    app: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/),
    job: fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,15}$/),
    pid: fc.integer({ min: 1, max: 4194304 }),
    stream: fc.constantFrom('out' as const, 'err' as const),
    msg: fc.string({ unit: 'grapheme', maxLength: 200 }).map((s) => s.replace(/[\r\n]/g, ' ')),
  });

  it('reads back every job record it wrote ({ app, job, pid, stream }), in each format', () => {
    fc.assert(
      fc.property(jobRecords, fc.constantFrom<LineStyle['format']>('text', 'json'), fc.constantFrom<LineStyle['time']>('iso', 'off'), fc.boolean(), (record, format, time, priority) => {
        const back = parseLine(formatRecord(record, { format, time, priority }));
        expect(back).not.toBeNull();
        const { fields: _f, ...rest } = back!;
        expect(rest).toEqual({ ...record, time: time === 'off' ? NaN : record.time });
      }),
      { numRuns: 300 },
    );
  });

  it('a job line: `<app>:<job>` in text, a job field in JSON (nsup\'s, over an app object\'s own job key)', () => {
    const line: LogRecord = { time: worker.time, app: 'web', job: 'backup', pid: 4312, stream: 'err', msg: 'dump done' };
    expect(formatRecord(line, text)).toBe('2026-12-01T13:26:16.123Z web:backup pid=4312 err | dump done');
    expect(JSON.parse(formatRecord(line, json))).toEqual({ time: '2026-12-01T13:26:16.123Z', app: 'web', job: 'backup', pid: 4312, stream: 'err', msg: 'dump done' });
    const pino = { level: 30, msg: 'hello', job: 'mine' };
    expect(JSON.parse(formatRecord({ ...line, msg: JSON.stringify(pino), fields: pino }, json))).toMatchObject({ app: 'web', job: 'backup', level: 30 });
    expect(parseLine('web:0 pid=1 out | x')).toEqual({ time: NaN, app: 'web', worker: 0, pid: 1, stream: 'out', msg: 'x' });
    expect(parseLine('web:?  out | x')).toMatchObject({ app: 'web', stream: 'out' });
    expect(parseLine('web:?  out | x')).not.toHaveProperty('job');
  });

  it('reads events back, and an app JSON line as its fields; a line that is not nsup\'s is null', () => {
    expect(parseLine(formatRecord(event, text))).toEqual({ time: event.time, app: 'web', stream: 'nsup', level: 'warn', msg: 'worker 0 is slow' });
    expect(parseLine(formatRecord(event, json))).toMatchObject({ time: event.time, app: 'web', stream: 'nsup', level: 'warn', msg: 'worker 0 is slow' });
    const pino = { level: 30, msg: 'hello', user: 42 };
    const back = parseLine(formatRecord({ ...worker, msg: JSON.stringify(pino), fields: pino }, json))!;
    expect(back.fields).toEqual({ time: '2026-12-01T13:26:16.123Z', level: 30, msg: 'hello', user: 42 });
    expect(recordObject(back)).toMatchObject({ app: 'web', worker: 0, level: 30, user: 42 });
    for (const line of ['', 'plain text', '{"not":"ours"}', '| no head', 'web:0 out no bar']) expect(parseLine(line)).toBeNull();
  });
});

describe('LineSplitter', () => {
  afterEach(() => vi.useRealTimers());

  it('any chunking of any output gives the same lines, each at most 64 KiB, whole UTF-8 characters', () => {
    const max = 64;
    fc.assert(
      // (U+FFFD itself left out of the input: the check is that no character is cut into one.)
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 300 }).map((s) => s.replace(/\uFFFD/g, '')), { maxLength: 8 }), fc.array(fc.nat(40), { minLength: 1, maxLength: 10 }), (lines, cuts) => {
        const input = Buffer.from(lines.map((l) => l.replace(/[\r\n]/g, '') + '\n').join(''));
        const out: string[] = [];
        const splitter = new LineSplitter((line) => out.push(line), { maxBytes: max, idleMs: 60_000 });
        let at = 0;
        for (let i = 0; at < input.length; i++) {
          const size = 1 + cuts[i % cuts.length]!;
          splitter.push(input.subarray(at, at + size));
          at += size;
        }
        splitter.end();
        for (const line of out) {
          expect(Buffer.byteLength(line)).toBeLessThanOrEqual(max);
          expect(line).not.toContain('\uFFFD');
        }
        // Pieces of one long line concatenate back to it.
        expect(out.join('')).toBe(lines.map((l) => l.replace(/[\r\n]/g, '')).join(''));
      }),
      { numRuns: 500 },
    );
  });

  it('writes a partial line after 200 ms of quiet, strips CR of CRLF, and the rest of the line comes as its own record', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    // The timer decides in a setImmediate, which the fake clock runs one step (1 ms) later.
    const advance = (ms: number) => {
      vi.advanceTimersByTime(ms);
      vi.advanceTimersByTime(1);
    };
    const out: string[] = [];
    const splitter = new LineSplitter((line) => out.push(line));
    splitter.push(Buffer.from('prompt> '));
    vi.advanceTimersByTime(199);
    expect(out).toEqual([]);
    advance(1);
    expect(out).toEqual(['prompt> ']);
    // Held (its stream paused for backpressure), a partial line waits; released, the quiet time starts again.
    splitter.push(Buffer.from('held '));
    splitter.hold(true);
    advance(1000);
    expect(out).toEqual(['prompt> ']);
    splitter.hold(false);
    advance(200);
    expect(out).toEqual(['prompt> ', 'held ']);
    splitter.push(Buffer.from('yes\r\nnext'));
    expect(out).toEqual(['prompt> ', 'held ', 'yes']);
    splitter.end();
    expect(out).toEqual(['prompt> ', 'held ', 'yes', 'next']);
  });

  it('a primary that was busy past the quiet time reads the rest of the line before deciding: one record, not two', async () => {
    vi.useRealTimers();
    const { createServer, connect } = await import('node:net');
    const out: string[] = [];
    const splitter = new LineSplitter((line) => out.push(line));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    try {
      const done = new Promise<void>((resolve) => {
        server.once('connection', (socket) => {
          let first = true;
          socket.on('data', (chunk: Buffer) => {
            splitter.push(chunk);
            if (!first) return resolve();
            first = false;
            // The rest of the line arrives while the primary is busy past the 200 ms quiet time.
            client.write('bbbb\n');
            const until = performance.now() + 300;
            while (performance.now() < until);
          });
        });
      });
      client.write('aaaa');
      await done;
      await new Promise((resolve) => setImmediate(resolve));
      expect(out).toEqual(['aaaabbbb']);
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('holds one piece at most: 10 MiB without a newline comes out as 64 KiB pieces as it arrives', () => {
    const sizes: number[] = [];
    const splitter = new LineSplitter((line) => sizes.push(line.length));
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < 10; i++) splitter.push(chunk);
    // The last 64 KiB could still be the start of a line of exactly 64 KiB: it waits for more (or 200 ms).
    expect(sizes).toHaveLength(159);
    splitter.end();
    expect(sizes).toHaveLength(160);
    expect(new Set(sizes)).toEqual(new Set([65536]));
  });
});
