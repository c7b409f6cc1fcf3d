// schedule.ts: croner used to evaluate patterns only (whole-second ticks strictly after a time, in a
// zone), and the config messages for patterns nsup refuses.
import { describe, expect, it } from 'vitest';
import { checkSchedule, checkTimezone, compileSchedule } from '../../src/jobs/schedule.ts';

const T = Date.UTC(2026, 0, 1, 0, 0, 10, 0);

describe('compileSchedule', () => {
  it("'*/2 * * * * *' from T: T+2 s steps, whole seconds, strictly after (ms dropped)", () => {
    const s = compileSchedule('*/2 * * * * *', 'UTC');
    const ticks: number[] = [];
    for (let t = s.next(T); ticks.length < 5 && t !== null; t = s.next(t)) ticks.push(t);
    expect(ticks.map((t) => t - T)).toEqual([2000, 4000, 6000, 8000, 10000]);
    expect(s.next(T + 999)).toBe(T + 2000);
    expect(s.next(T - 1)).toBe(T);
    expect(s.previous(T)).toBe(T);
    expect(s.previous(T + 1999)).toBe(T);
    expect(s.previous(T - 1)).toBe(T - 2000);
  });

  it('arms no timer: a compiled schedule leaves no active resource behind', () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const s = compileSchedule('* * * * * *', null);
    s.next(Date.now());
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
  });

  it("'0 4 * * *' in Europe/Paris is an hour before UTC's in winter, two in summer", () => {
    const paris = compileSchedule('0 4 * * *', 'Europe/Paris');
    const utc = compileSchedule('0 4 * * *', 'UTC');
    expect(utc.next(T)).toBe(Date.UTC(2026, 0, 1, 4));
    expect(utc.next(T)! - paris.next(T)!).toBe(3600_000);
    const july = Date.UTC(2026, 6, 1);
    expect(utc.next(july)! - paris.next(july)!).toBe(7200_000);
  });

  it('a DST day enumerates no tick twice and no 03:00 twice (Europe/Paris, 2026-10-25 and 2026-03-29)', () => {
    for (const [pattern, day] of [['0 * * * *', Date.UTC(2026, 9, 24, 20)], ['0 3 * * *', Date.UTC(2026, 9, 24, 20)], ['*/30 * * * *', Date.UTC(2026, 2, 28, 20)]] as const) {
      const s = compileSchedule(pattern, 'Europe/Paris');
      const ticks: number[] = [];
      for (let t = s.next(day); t !== null && t < day + 36 * 3600_000; t = s.next(t)) ticks.push(t);
      expect(new Set(ticks).size).toBe(ticks.length);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]!).toBeGreaterThan(ticks[i - 1]!);
      const wall = ticks.map((t) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', dateStyle: 'short', timeStyle: 'short' }).format(t));
      expect(wall.filter((w) => w.endsWith('03:00')).length).toBeLessThanOrEqual(2); // two days in the window, once each
      expect(new Set(wall.filter((w) => w.endsWith('03:00'))).size).toBe(wall.filter((w) => w.endsWith('03:00')).length);
    }
  });

  it("a fixed-time job ('30 2 * * *') runs once on the day 02:30 happens twice, and once (at 03:00) on the day it does not", () => {
    const s = compileSchedule('30 2 * * *', 'Europe/Paris');
    const day = (from: number) => {
      const ticks: number[] = [];
      for (let t = s.next(from); t !== null && t < from + 24 * 3600_000; t = s.next(t)) ticks.push(t);
      return ticks;
    };
    expect(day(Date.UTC(2026, 9, 24, 22))).toEqual([Date.UTC(2026, 9, 25, 0, 30)]); // 02:30 CEST, not 02:30 CET too
    expect(day(Date.UTC(2026, 2, 28, 22))).toEqual([Date.UTC(2026, 2, 29, 1, 0)]); // 03:00 CEST, after the gap
  });

  it('throws for a date (croner\'s run-once form) and a bad pattern', () => {
    expect(() => compileSchedule('2027-01-01T00:00', null)).toThrow(/date/);
    expect(() => compileSchedule('61 * * * *', null)).toThrow(/minute/);
  });
});

describe('checkSchedule', () => {
  it('accepts 5, 6 and 7 fields and nicknames', () => {
    for (const p of ['0 4 * * *', '*/10 * * * * *', '0 0 0 1 1 * 2099', '@daily', '0 9 * * MON-FRI']) expect(checkSchedule(p, null)).toBeNull();
    expect(checkSchedule('0 4 * * *', 'Europe/Paris')).toBeNull();
  });

  it('names the problem: a bad field, a date, @reboot, a pattern that never matches', () => {
    expect(checkSchedule('61 * * * *', null)).toBe(
      "a cron expression: 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. '0 4 * * *' or '*/10 * * * * *' (croner: Invalid value for minute: 61)",
    );
    expect(checkSchedule('* * * *', null)).toMatch(/\(croner: .*five, six, or seven/);
    expect(checkSchedule('2027-01-01T00:00', null)).toMatch(/, not a date: a job runs on a schedule$/);
    expect(checkSchedule('@reboot', null)).toMatch(/'@reboot' is not supported: for work at start use a primary hook \(docs\/primary-hooks\.md\)$/);
    expect(checkSchedule('0 0 30 2 *', null)).toMatch(/that matches a date: '0 0 30 2 \*' never does; fix the expression$/);
    expect(checkSchedule('0 0 0 1 1 * 2020', null)).toMatch(/never does/);
  });
});

describe('checkTimezone', () => {
  it('IANA names and UTC pass; anything else does not', () => {
    expect([checkTimezone('Europe/Paris'), checkTimezone('UTC'), checkTimezone('America/New_York')]).toEqual([true, true, true]);
    expect([checkTimezone('Mars/Olympus'), checkTimezone('')]).toEqual([false, false]);
  });
});
