// `nsup logs`'s filters: the flags as typed (--since, --until, --grep, --worker, --job, --stream, -n)
// validated into a query, and whether a line passes it.
import ms from 'ms';
import { UsageError } from '../errors.ts';
import { JOB_NAME_RE, LOG_STREAMS, type LogStream } from './record.ts';
import type { LogItem } from './read-logs.ts';

/** What `nsup logs` keeps: every bound is optional; a record must pass all that are given. */
export interface LogFilter {
  /** Epoch ms, inclusive. */
  since?: number;
  until?: number;
  grep?: RegExp;
  worker?: number;
  /** A scheduled job's name: the output of its runs. */
  job?: string;
  stream?: LogStream;
}

/** The filter and how many of the last matching lines to print (Infinity: every one). */
export interface LogQuery {
  filter: LogFilter;
  limit: number;
}

/** The flags as typed (strings, unvalidated). */
export interface LogFlags {
  since?: string | undefined;
  until?: string | undefined;
  grep?: string | undefined;
  worker?: string | undefined;
  job?: string | undefined;
  stream?: string | undefined;
  lines?: string | undefined;
}

const DEFAULT_LINES = 20;

/** Validate the flags into a query; a bad value is a UsageError naming the flag, the value and the accepted forms. */
export function parseLogQuery(flags: LogFlags, now = Date.now()): LogQuery {
  const filter: LogFilter = {};
  if (flags.since !== undefined) filter.since = parseTime('--since', flags.since, now);
  if (flags.until !== undefined) filter.until = parseTime('--until', flags.until, now);
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    throw new UsageError(`--since ${flags.since} is later than --until ${flags.until}: no line can match. Swap them, or drop one.`);
  }
  if (flags.grep !== undefined) {
    try {
      filter.grep = new RegExp(flags.grep);
    } catch (error) {
      throw new UsageError(`--grep ${JSON.stringify(flags.grep)} is not a valid regular expression: ${(error as Error).message}. Escape special characters (e.g. '\\(') or quote the pattern for the shell.`);
    }
  }
  if (flags.worker !== undefined) {
    if (!/^\d+$/.test(flags.worker.trim())) throw new UsageError(`--worker takes a worker slot (0, 1, …; see nsup status), got ${JSON.stringify(flags.worker)}`);
    filter.worker = Number(flags.worker.trim());
  }
  if (flags.job !== undefined) {
    // Not checked against the app's jobs now: the lines of a job since taken out of the config are still there to read.
    if (!JOB_NAME_RE.test(flags.job)) throw new UsageError(`--job takes the name of one of the app's jobs (see nsup status), got ${JSON.stringify(flags.job)}`);
    if (filter.worker !== undefined) throw new UsageError(`--worker ${flags.worker} and --job ${flags.job} together match no line: a job's runs are not a worker's. Give one of them.`);
    filter.job = flags.job;
  }
  if (flags.stream !== undefined) {
    if (!(LOG_STREAMS as readonly string[]).includes(flags.stream)) {
      throw new UsageError(`--stream takes out (workers' stdout), err (workers' stderr) or nsup (the supervisor's events), got ${JSON.stringify(flags.stream)}`);
    }
    filter.stream = flags.stream as LogStream;
  }
  let limit = filter.since !== undefined || filter.until !== undefined ? Infinity : DEFAULT_LINES;
  if (flags.lines !== undefined) {
    if (!/^\d+$/.test(flags.lines.trim())) throw new UsageError(`-n/--lines takes a number of lines (0 or more, e.g. -n 100), got ${JSON.stringify(flags.lines)}`);
    limit = Number(flags.lines.trim());
  }
  return { filter, limit };
}

/** Whether any filter is given (then lines that are not nsup's are skipped). */
export function isFiltering(filter: LogFilter): boolean {
  return filter.since !== undefined || filter.until !== undefined || filter.grep !== undefined || filter.worker !== undefined || filter.job !== undefined || filter.stream !== undefined;
}

/** Whether a line passes the filter. */
export function matches(filter: LogFilter, item: LogItem): boolean {
  if (!isFiltering(filter)) return true;
  const r = item.record;
  if (r === null) return false;
  if (filter.since !== undefined || filter.until !== undefined) {
    if (!Number.isFinite(r.time)) return false;
    if (filter.since !== undefined && r.time < filter.since) return false;
    if (filter.until !== undefined && r.time > filter.until) return false;
  }
  if (filter.stream !== undefined && r.stream !== filter.stream) return false;
  if (filter.worker !== undefined && (r.stream === 'nsup' || r.worker !== filter.worker)) return false;
  if (filter.job !== undefined && (r.stream === 'nsup' || r.job !== filter.job)) return false;
  return filter.grep === undefined || filter.grep.test(r.msg);
}

// --- helpers ---

// A duration ago ('10m', '2h', '30s', '1d') or a date (what Date.parse accepts); a bare number is
// refused (10 what?).
function parseTime(flag: string, value: string, now: number): number {
  const text = value.trim();
  const forms = `a duration ago ('30s', '10m', '2h', '1d') or a date ('2026-03-01', '2026-03-01T14:30:00Z', '2026-03-01 14:30')`;
  if (/^\d+(\.\d+)?\s*[a-z]+$/i.test(text)) {
    const duration = ms(text as ms.StringValue) as number | undefined;
    if (typeof duration === 'number' && Number.isFinite(duration)) return now - duration;
    throw new UsageError(`${flag} ${JSON.stringify(value)}: unknown unit; give ${forms}`);
  }
  const date = /^\d+(\.\d+)?$/.test(text) ? NaN : Date.parse(text);
  if (Number.isFinite(date)) return date;
  throw new UsageError(`${flag} ${JSON.stringify(value)} is neither a duration nor a date; give ${forms}`);
}
