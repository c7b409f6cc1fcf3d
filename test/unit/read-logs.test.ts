// `nsup logs`'s reading side (read-logs.ts, log-filter.ts) on files crafted with formatRecord:
// flags → filter, rotated siblings (plain and gzip) read oldest first, separate files merged by
// time, the last N kept, the lines printed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.ts';
import { matches, parseLogQuery, type LogQuery } from '../../src/log/log-filter.ts';
import { formatItem, fromItems, itemOfLine, itemOfRecordJson, mergeByTime, readLogFiles, Ring, rotatedSiblings, selectLogs, type LogItem } from '../../src/log/read-logs.ts';
import { formatRecord, type LineStyle, type LogRecord } from '../../src/log/record.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const NOW = Date.parse('2026-03-01T13:00:00.000Z');
const TEXT: LineStyle = { format: 'text', time: 'iso', priority: false };
const JSON_STYLE: LineStyle = { format: 'json', time: 'iso', priority: false };

const out = (sec: number, worker: number, msg: string, extra: Partial<LogRecord> = {}): LogRecord => ({ time: T0 + sec * 1000, app: 'web', stream: 'out', worker, pid: 100 + worker, gen: 1, msg, ...extra });
const err = (sec: number, worker: number, msg: string): LogRecord => out(sec, worker, msg, { stream: 'err' });
const event = (sec: number, msg: string, level = 'info'): LogRecord => ({ time: T0 + sec * 1000, app: 'web', stream: 'nsup', level, msg });
const lines = (records: LogRecord[], style = TEXT) => records.map((r) => formatRecord(r, style)).join('\n') + '\n';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsup-read-logs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function collect(paths: string[], query: LogQuery): Promise<LogItem[]> {
  const items: LogItem[] = [];
  await selectLogs(paths.map((p) => readLogFiles(p)), query, (item) => items.push(item));
  return items;
}
const msgs = (items: LogItem[]) => items.map((i) => i.record?.msg ?? `raw:${i.line}`);
const all: LogQuery = { filter: {}, limit: Infinity };

describe('parseLogQuery', () => {
  it('reads durations ago and dates, inclusive bounds, and defaults -n to 20 unless a time bound is given', () => {
    expect(parseLogQuery({}, NOW)).toEqual({ filter: {}, limit: 20 });
    expect(parseLogQuery({ since: '10m' }, NOW)).toEqual({ filter: { since: NOW - 600_000 }, limit: Infinity });
    expect(parseLogQuery({ since: '2h', until: '30s' }, NOW).filter).toEqual({ since: NOW - 7_200_000, until: NOW - 30_000 });
    expect(parseLogQuery({ until: '1.5 h' }, NOW).filter.until).toBe(NOW - 5_400_000);
    expect(parseLogQuery({ since: '2026-03-01T12:30:00Z' }, NOW).filter.since).toBe(Date.parse('2026-03-01T12:30:00Z'));
    expect(parseLogQuery({ since: '2026-03-01' }, NOW).filter.since).toBe(Date.parse('2026-03-01'));
    expect(parseLogQuery({ since: '10m', lines: '5' }, NOW).limit).toBe(5);
    expect(parseLogQuery({ lines: '0' }, NOW).limit).toBe(0);
    expect(parseLogQuery({ worker: '1', stream: 'err', grep: 'boom|bang' }, NOW).filter).toEqual({ worker: 1, stream: 'err', grep: /boom|bang/ });
  });

  it.each([
    [{ since: 'yesterday' }, /--since "yesterday" is neither a duration nor a date; give a duration ago \('30s', '10m', '2h', '1d'\) or a date/],
    [{ since: '10' }, /--since "10" is neither a duration nor a date/],
    [{ until: '10 parsecs' }, /--until "10 parsecs": unknown unit; give a duration ago/],
    [{ since: '' }, /--since "" is neither/],
    [{ since: '1m', until: '1h' }, /--since 1m is later than --until 1h: no line can match/],
    [{ grep: 'a(b' }, /--grep "a\(b" is not a valid regular expression: Invalid regular expression: .*Unterminated group/],
    [{ worker: 'one' }, /--worker takes a worker slot \(0, 1, …; see nsup status\), got "one"/],
    [{ worker: '-1' }, /--worker takes a worker slot/],
    [{ job: '0' }, /--job takes the name of one of the app's jobs \(see nsup status\), got "0"/],
    [{ worker: '1', job: 'backup' }, /--worker 1 and --job backup together match no line: a job's runs are not a worker's/],
    [{ stream: 'stderr' }, /--stream takes out \(workers' stdout\), err \(workers' stderr\) or nsup \(the supervisor's events\), got "stderr"/],
    [{ lines: 'many' }, /-n\/--lines takes a number of lines \(0 or more, e\.g\. -n 100\), got "many"/],
    [{ lines: '-5' }, /-n\/--lines takes a number/],
  ])('refuses %j with a UsageError naming the flag, the value and the accepted forms', (flags, message) => {
    let thrown: unknown;
    try {
      parseLogQuery(flags, NOW);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).exitCode).toBe(2);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('matches', () => {
  const items = [out(1, 0, 'hello'), err(2, 1, 'boom'), event(3, 'worker 1 exited'), { ...out(4, 1, 'untimed'), time: NaN }].map((r) => ({ line: formatRecord(r, TEXT), record: r }));
  const raw: LogItem = { line: '[web:0] an old-format line', record: null };
  const pick = (filter: LogQuery['filter']) => msgs([...items, raw].filter((i) => matches(filter, i)));

  it('keeps every line, foreign ones included, without a filter', () => {
    expect(pick({})).toEqual(['hello', 'boom', 'worker 1 exited', 'untimed', 'raw:[web:0] an old-format line']);
  });

  it('applies each filter, drops foreign lines under any filter, and lines without a time under a time bound', () => {
    expect(pick({ stream: 'err' })).toEqual(['boom']);
    expect(pick({ stream: 'nsup' })).toEqual(['worker 1 exited']);
    expect(pick({ worker: 1 })).toEqual(['boom', 'untimed']);
    expect(pick({ grep: /o/ })).toEqual(['hello', 'boom', 'worker 1 exited']);
    expect(pick({ since: T0 + 2000 })).toEqual(['boom', 'worker 1 exited']);
    expect(pick({ until: T0 + 2000 })).toEqual(['hello', 'boom']);
    expect(pick({ since: T0 + 2000, until: T0 + 2000 })).toEqual(['boom']);
    expect(pick({ worker: 1, stream: 'out' })).toEqual(['untimed']);
  });

  it("--job keeps the output of that job's runs: no worker's, no other job's, no event", () => {
    const job = (sec: number, name: string, msg: string, stream: 'out' | 'err' = 'out'): LogItem => {
      const { worker: _w, gen: _g, ...rest } = out(sec, 0, msg, { stream, job: name });
      return { line: formatRecord(rest, TEXT), record: rest };
    };
    const all = [...items, job(5, 'backup', 'backed up'), job(6, 'report', 'reported'), job(7, 'backup', 'disk full', 'err'), { line: '', record: { ...event(8, 'backup done'), job: 'backup' } }];
    const only = (filter: LogQuery['filter']) => msgs(all.filter((i) => matches(filter, i)));
    expect(parseLogQuery({ job: 'backup' }, NOW).filter).toEqual({ job: 'backup' });
    expect(only({ job: 'backup' })).toEqual(['backed up', 'disk full']);
    expect(only({ job: 'backup', stream: 'err' })).toEqual(['disk full']);
    expect(only({ worker: 0 })).toEqual(['hello']);
  });
});

describe('rotatedSiblings', () => {
  it('lists P.N and P.N.gz, highest number (oldest) first, and nothing else', () => {
    for (const name of ['web.log', 'web.log.1', 'web.log.2.gz', 'web.log.10', 'web.log.3', 'web.log.x', 'web.log.1.bak', 'web.logs.1', 'api.log.1']) writeFileSync(join(dir, name), '');
    return expect(rotatedSiblings(join(dir, 'web.log'))).resolves.toEqual(['web.log.10', 'web.log.3', 'web.log.2.gz', 'web.log.1'].map((n) => join(dir, n)));
  });

  it('has none in a missing directory', async () => {
    expect(await rotatedSiblings(join(dir, 'nope', 'web.log'))).toEqual([]);
  });
});

describe('readLogFiles', () => {
  it('reads the rotated siblings oldest first (gzip included), then the file, in any format nsup writes', async () => {
    const path = join(dir, 'web.log');
    writeFileSync(`${path}.3.gz`, gzipSync(lines([out(1, 0, 'json, gzip, oldest'), event(2, 'reload done')], JSON_STYLE)));
    writeFileSync(`${path}.2`, lines([out(3, 0, 'priority prefixed'), err(4, 1, 'an error')], { ...TEXT, priority: true }));
    writeFileSync(`${path}.1`, lines([out(5, 1, 'no time')], { ...TEXT, time: 'off' }) + 'not one of nsup\u2019s lines\r\n');
    writeFileSync(path, lines([out(6, 0, 'local time')], { ...TEXT, time: 'local' }) + lines([out(7, 1, 'json with priority')], { ...JSON_STYLE, priority: true }));
    const items = await collect([path], all);
    expect(msgs(items)).toEqual(['json, gzip, oldest', 'reload done', 'priority prefixed', 'an error', 'no time', 'raw:not one of nsup\u2019s lines', 'local time', 'json with priority']);
    expect(items[0]!.record).toMatchObject({ time: T0 + 1000, app: 'web', stream: 'out', worker: 0, pid: 100, gen: 1 });
    expect(items[3]!.record).toMatchObject({ stream: 'err', worker: 1 });
    expect(items[4]!.record!.time).toBeNaN();
    expect(items[6]!.record!.time).toBe(T0 + 6000);
  });

  it('skips missing files and warns about (then passes over) a truncated gzip', async () => {
    const path = join(dir, 'web.log');
    const gz = gzipSync(lines([out(1, 0, 'cut short')]));
    writeFileSync(`${path}.2.gz`, gz.subarray(0, gz.length - 10));
    writeFileSync(`${path}.1`, lines([out(2, 0, 'after the broken one')]));
    const warnings: string[] = [];
    const items: LogItem[] = [];
    for await (const batch of readLogFiles(path, (m) => warnings.push(m))) items.push(...batch);
    expect(msgs(items)).toContain('after the broken one');
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^skipped the rest of ${path}\\.2\\.gz: unexpected end of file`))]);
  });

  it('streams a big gzip file in many batches instead of reading it whole', async () => {
    const path = join(dir, 'big.log');
    const records = Array.from({ length: 50_000 }, (_, i) => out(i / 1000, i % 2, `line ${i} ${'x'.repeat(40)}`));
    writeFileSync(`${path}.1.gz`, gzipSync(lines(records)));
    let batches = 0;
    let count = 0;
    let last = '';
    for await (const batch of readLogFiles(path)) {
      batches++;
      count += batch.length;
      last = batch.at(-1)!.record!.msg;
    }
    expect(count).toBe(50_000);
    expect(last).toMatch(/^line 49999 /);
    expect(batches).toBeGreaterThan(5);
  });
});

describe('mergeByTime and selectLogs', () => {
  it('merges a separate err file with the out file in time order; a line without a time stays after the one before it', async () => {
    const outPath = join(dir, 'out.log');
    const errPath = join(dir, 'err.log');
    writeFileSync(`${outPath}.1`, lines([out(1, 0, 'o1'), out(4, 0, 'o4')]));
    writeFileSync(outPath, lines([out(6, 0, 'o6')]) + 'raw after o6\n' + lines([out(9, 0, 'o9')]));
    writeFileSync(errPath, lines([err(2, 0, 'e2'), err(4, 0, 'e4 (tie: after o4, the first file)'), err(7, 0, 'e7')]) + lines([{ ...err(0, 0, 'e-untimed'), time: NaN }]) + lines([err(8, 0, 'e8')]));
    expect(msgs(await collect([outPath, errPath], all))).toEqual(['o1', 'e2', 'o4', 'e4 (tie: after o4, the first file)', 'o6', 'raw:raw after o6', 'e7', 'e-untimed', 'e8', 'o9']);
  });

  it('keeps the last N matching lines, or streams every one when the limit is Infinity; filters apply across files', async () => {
    const path = join(dir, 'web.log');
    writeFileSync(`${path}.2.gz`, gzipSync(lines(Array.from({ length: 30 }, (_, i) => out(i, i % 2, `old ${i}`)))));
    writeFileSync(`${path}.1`, lines([err(100, 1, 'boom in rotated')]));
    writeFileSync(path, lines(Array.from({ length: 30 }, (_, i) => out(200 + i, i % 2, `new ${i}`))));
    expect(msgs(await collect([path], { filter: {}, limit: 3 }))).toEqual(['new 27', 'new 28', 'new 29']);
    expect(await collect([path], { filter: {}, limit: 0 })).toEqual([]);
    expect(msgs(await collect([path], { filter: { grep: /boom/ }, limit: 20 }))).toEqual(['boom in rotated']);
    expect(msgs(await collect([path], { filter: { worker: 1, since: T0 + 25_000, until: T0 + 205_000 }, limit: Infinity }))).toEqual(['old 25', 'old 27', 'old 29', 'boom in rotated', 'new 1', 'new 3', 'new 5']);
    expect(await collect([path], all)).toHaveLength(61);
  });

  it('stops reading (and closes) every source when the consumer throws', async () => {
    let closed = 0;
    async function* source(): AsyncGenerator<LogItem[]> {
      try {
        for (let i = 0; ; i++) yield [itemOfLine(formatRecord(out(i, 0, `n${i}`), TEXT))];
      } finally {
        closed++;
      }
    }
    await expect(
      mergeByTime([source(), source()], (item) => {
        if (item.record!.msg === 'n3') throw new Error('stop');
      }),
    ).rejects.toThrow('stop');
    expect(closed).toBe(2);
  });
});

describe('records from the supervisor and printed lines', () => {
  it("reads the supervisor's memory (JSON LogRecords; a null time is no time; an older supervisor's text lines too)", async () => {
    const items = [JSON.stringify(out(1, 0, 'from memory')), JSON.stringify({ ...event(2, 'no time'), time: null }), formatRecord(err(3, 1, 'text line'), TEXT), '[web:0] old style'].map(itemOfRecordJson);
    expect(items.map((i) => i.record?.msg ?? null)).toEqual(['from memory', 'no time', 'text line', null]);
    expect(items[1]!.record!.time).toBeNaN();
    const kept: LogItem[] = [];
    await selectLogs([fromItems(items)], { filter: { stream: 'err' }, limit: 20 }, (i) => kept.push(i));
    expect(msgs(kept)).toEqual(['text line']);
  });

  it('prints text with an ISO time, or (--json) the record object; a foreign line as written, and not at all under --json', () => {
    const record = out(1, 0, 'hello');
    const item = { line: formatRecord(record, { ...JSON_STYLE, priority: true }), record };
    expect(formatItem(item, false)).toBe('2026-03-01T12:00:01.000Z web:0 pid=100 gen=1 out | hello');
    expect(JSON.parse(formatItem(item, true)!)).toEqual({ time: '2026-03-01T12:00:01.000Z', app: 'web', worker: 0, pid: 100, gen: 1, stream: 'out', msg: 'hello' });
    const untimed = itemOfLine(formatRecord(event(1, 'started', 'warn'), { ...TEXT, time: 'off' }));
    expect(formatItem(untimed, false)).toBe('web nsup warn | started');
    expect(formatItem({ line: 'plain', record: null }, false)).toBe('plain');
    expect(formatItem({ line: 'plain', record: null }, true)).toBeNull();
  });
});

describe('Ring', () => {
  it('keeps the last capacity values in order', () => {
    const ring = new Ring<number>(3);
    expect(ring.items()).toEqual([]);
    for (let i = 1; i <= 2; i++) ring.push(i);
    expect(ring.items()).toEqual([1, 2]);
    for (let i = 3; i <= 7; i++) ring.push(i);
    expect(ring.items()).toEqual([5, 6, 7]);
    const none = new Ring<number>(0);
    none.push(1);
    expect(none.items()).toEqual([]);
  });
});
