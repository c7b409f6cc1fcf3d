// LogFiles with rotation (rotating-file-stream): by size, by day on a fake clock, retention,
// gzip, --flush, SIGUSR2's reopen; and the files an app's streams go to.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LogFiles } from '../../src/log/log-files.ts';
import { rotatedSiblings } from '../../src/log/read-logs.ts';
import { pollUntil as until } from '../helpers/until.ts';

let dir: string;
let files: LogFiles;
const errors: string[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsup-logfiles-'));
  errors.length = 0;
  files = new LogFiles((app, path, error) => errors.push(`${app} ${path} ${error.code}`));
});
afterEach(async () => {
  vi.useRealTimers();
  await files.close();
  rmSync(dir, { recursive: true, force: true });
});

const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
const rotation = (sizeBytes: number, extra: Partial<{ every: string | null; keep: number; compress: boolean }> = {}) => ({ sizeBytes, every: null, keep: 3, compress: false, ...extra });

describe('LogFiles', () => {
  it('rotates by size, keeps `keep` files (newest .1) and gzips them', async () => {
    const path = join(dir, 'web.log');
    files.configure('web', { out: path, err: path, rotate: rotation(1024, { keep: 2, compress: true }) });
    for (let i = 0; i < 200; i++) files.write('web', 'out', `line ${String(i).padStart(3, '0')} ${'x'.repeat(40)}`);
    await until(() => read(path).includes('line 199'), 'the last line in the current file', 5000);
    expect((await rotatedSiblings(path)).map((p) => p.slice(dir.length + 1))).toEqual(['web.log.2.gz', 'web.log.1.gz']);
    const newest = gunzipSync(readFileSync(join(dir, 'web.log.1.gz'))).toString();
    const older = gunzipSync(readFileSync(join(dir, 'web.log.2.gz'))).toString();
    // Whole lines in order across the files; every rotated file is about the size limit.
    const all = (older + newest + read(path)).split('\n').filter(Boolean);
    const numbers = all.map((l) => Number(/line (\d+)/.exec(l)![1]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(numbers.at(-1)).toBe(199);
    expect(Buffer.byteLength(newest)).toBeGreaterThanOrEqual(1024);
    expect(Buffer.byteLength(newest)).toBeLessThan(1024 + 100);
    expect(errors).toEqual([]);
  });

  it('rotates at midnight with every: 1d (fake clock) and keeps the last `keep` days', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date(2026, 11, 1, 23, 59, 59, 0));
    const path = join(dir, 'web.log');
    files.configure('web', { out: path, err: path, rotate: rotation(1024 ** 3, { every: '1d', keep: 2 }) });
    files.write('web', 'out', 'day 1');
    await until(() => read(path).includes('day 1'), 'day 1 written', 5000);
    for (const day of [2, 3, 4]) {
      // The day changes; rotating-file-stream's (real) timer fires within the second left before midnight.
      vi.setSystemTime(new Date(2026, 11, day, 0, 0, 1, 0));
      await until(() => read(join(dir, 'web.log.1')).includes(`day ${day - 1}`), `day ${day - 1} rotated to web.log.1`, 5000);
      files.write('web', 'out', `day ${day}`);
      await until(() => read(path).includes(`day ${day}`), `day ${day} written`, 5000);
      // Its next timer is a real day long: a new stream (SIGUSR2's reopen) one second before the
      // next midnight arms a timer of one second.
      vi.setSystemTime(new Date(2026, 11, day, 23, 59, 59, 0));
      files.reopen();
      files.write('web', 'out', `day ${day} late`);
      await until(() => read(path).includes(`day ${day} late`), `day ${day} late written`, 5000);
    }
    vi.setSystemTime(new Date(2026, 11, 5, 0, 0, 1, 0));
    await until(() => read(join(dir, 'web.log.1')).includes('day 4 late'), 'day 4 rotated', 5000);
    expect(read(path)).toBe('');
    expect(read(join(dir, 'web.log.1'))).toBe('day 4\nday 4 late\n');
    expect(read(join(dir, 'web.log.2'))).toBe('day 3\nday 3 late\n');
    expect(existsSync(join(dir, 'web.log.3'))).toBe(false);
  });

  it('stdout and events to logFile, stderr to errorFile, /dev/null discards; files() says which holds what', async () => {
    const out = join(dir, 'out.log');
    const err = join(dir, 'sub', 'err.log');
    files.configure('web', { out, err, rotate: rotation(1024 ** 2) });
    files.configure('quiet', { out: '/dev/null', err: join(dir, 'quiet.err'), rotate: null });
    files.write('web', 'out', 'to out');
    files.write('web', 'nsup', 'an event');
    files.write('web', 'err', 'to err');
    files.write('quiet', 'out', 'gone');
    files.write('quiet', 'err', 'kept');
    await until(() => read(out).includes('an event') && read(err).includes('to err') && read(join(dir, 'quiet.err')).includes('kept'), 'every line written', 5000);
    expect(read(out)).toBe('to out\nan event\n');
    expect(read(err)).toBe('to err\n');
    expect(files.files('web')).toEqual([{ path: out, streams: ['out', 'nsup'] }, { path: err, streams: ['err'] }]);
    expect(files.files('quiet')).toEqual([{ path: join(dir, 'quiet.err'), streams: ['err'] }]);
    expect(readdirSync(dir).sort()).toEqual(['out.log', 'quiet.err', 'sub']);
  });

  it('empty() (--flush) empties the file and removes rotated copies; later lines go to the emptied file', async () => {
    const path = join(dir, 'web.log');
    files.configure('web', { out: path, err: path, rotate: rotation(512) });
    for (let i = 0; i < 50; i++) files.write('web', 'out', `old ${i} ${'y'.repeat(40)}`);
    await until(() => read(path).includes('old 49') && existsSync(`${path}.1`), 'rotated', 5000);
    const flushed = files.empty('web');
    files.write('web', 'out', 'written during the flush');
    expect(await flushed).toEqual([path]);
    files.write('web', 'out', 'after');
    await until(() => read(path).includes('after'), 'the line after the flush', 5000);
    expect(read(path)).toBe('written during the flush\nafter\n');
    expect(await rotatedSiblings(path)).toEqual([]);
  });

  it('reopen (SIGUSR2) starts a new file at the path after the old one was moved away', async () => {
    for (const rotate of [null, rotation(1024 ** 2)]) {
      const path = join(dir, `web-${rotate ? 'rotating' : 'plain'}.log`);
      files.configure('web', { out: path, err: path, rotate });
      files.write('web', 'out', 'before');
      await until(() => read(path).includes('before'), 'first line', 5000);
      const { renameSync } = await import('node:fs');
      renameSync(path, `${path}.moved`);
      files.reopen();
      files.write('web', 'out', 'after');
      await until(() => read(path).includes('after'), 'a line in the new file', 5000);
      expect(read(`${path}.moved`)).toBe('before\n');
      expect(read(path)).toBe('after\n');
    }
  });
});
