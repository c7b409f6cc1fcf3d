// Cron patterns: the only importer of croner. croner evaluates patterns here and nothing else:
// a Cron built with no function arms no timer (its _checkTrigger would read `new Date()` and get
// around the core's injectable Clock), so a job's next tick is one more deadline of the core's one
// timer (supervisor/deadlines.ts) and fake-clock tests drive it like everything else.
import { Cron } from 'croner';

/** A compiled cron expression (croner; seconds optional, 5-7 fields) in a time zone (null: the process's). */
export interface Schedule {
  readonly pattern: string;
  readonly timezone: string | null;
  /** The first tick strictly after `afterMs` (whole seconds, ms since the epoch), or null: never again. */
  next(afterMs: number): number | null;
  /** The last tick at or before `atMs`, or null: none (the missed-ticks reports name their range with it). */
  previous(atMs: number): number | null;
}

/** Compiles a pattern; throws croner's Error for a bad one (config validation calls checkSchedule first). */
export function compileSchedule(pattern: string, timezone: string | null): Schedule {
  // paused and no function: croner never schedules, so stop() is never needed. Default DOM/DOW
  // handling (OR when both are restricted, like Vixie cron) and default DST rules (croner 11).
  const cron = new Cron(pattern, { paused: true, ...(timezone === null ? {} : { timezone }) });
  if (cron.getPattern() === undefined) throw new Error(`'${pattern}' is a date, not a cron expression`);
  return {
    pattern,
    timezone,
    // nextRun drops the milliseconds and is strictly after its argument, so ticks only go up.
    next: (afterMs) => cron.nextRun(new Date(afterMs))?.getTime() ?? null,
    // previousRuns is strictly before its reference, to the millisecond: +1 includes a tick at atMs.
    previous: (atMs) => cron.previousRuns(1, new Date(atMs + 1))[0]?.getTime() ?? null,
  };
}

const CRON_FORMAT =
  "a cron expression: 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. '0 4 * * *' or '*/10 * * * * *'";

/**
 * Why a pattern is not usable, as the "expected …" part of a config error (schema.ts `bad()`), or null.
 * Rejects ISO dates (croner's run-once form), '@reboot' and patterns that never match a date.
 * An invalid `timezone` is checkTimezone's to report: here it counts as the process's zone.
 */
export function checkSchedule(pattern: string, timezone: string | null): string | null {
  const trimmed = pattern.trim();
  if (/^@reboot$/i.test(trimmed)) return `${CRON_FORMAT}; '@reboot' is not supported: for work at start use a primary hook (docs/primary-hooks.md)`;
  let schedule: Schedule;
  try {
    const cron = new Cron(pattern, { paused: true, ...(timezone !== null && checkTimezone(timezone) ? { timezone } : {}) });
    if (cron.getPattern() === undefined) return `${CRON_FORMAT}, not a date: a job runs on a schedule`;
    schedule = compileSchedule(pattern, timezone !== null && checkTimezone(timezone) ? timezone : null);
  } catch (err) {
    const detail = (err instanceof Error ? err.message : String(err)).replace(/^CronPattern:\s*/, '');
    return `${CRON_FORMAT} (croner: ${detail})`;
  }
  // Enough to see '0 0 30 2 *' or a past year: croner searches years ahead before giving up.
  if (schedule.next(Date.now()) === null) return `${CRON_FORMAT} that matches a date: '${pattern}' never does; fix the expression`;
  return null;
}

/** Whether `tz` is a time zone this Node knows (an IANA name such as 'Europe/Paris', or 'UTC'). */
export function checkTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
