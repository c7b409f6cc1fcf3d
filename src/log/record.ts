// One log record, whoever wrote it (a worker's stdout/stderr line or one of nsup's events), and
// the one place that turns it into a line (text or JSON, with or without a timestamp, with a
// journald priority) and a line back into a record (`nsup logs` reads the files it wrote).

/** Where a line came from: a worker's stdout or stderr, or nsup itself. */
export type LogStream = 'out' | 'err' | 'nsup';
export const LOG_STREAMS: readonly LogStream[] = ['out', 'err', 'nsup'];

/** One line of the log. Worker lines have worker/pid/gen; nsup's events have level/event. */
export interface LogRecord {
  /** Epoch milliseconds; NaN for a line read back without a timestamp. */
  time: number;
  app?: string;
  stream: LogStream;
  msg: string;
  /** Worker slot (NODE_APP_INSTANCE). */
  worker?: number;
  /** A scheduled job's name, for its process's lines (src/jobs/runner.ts); they have no slot. */
  job?: string;
  pid?: number;
  /** Generation of the worker (1 at start, +1 per reload). */
  gen?: number;
  /** nsup's events: pino's level label (info, warn, error…). */
  level?: string;
  /** The structured fields: a worker's own JSON object (pino, winston json; `msg` is then the line as written), or an event's pino object. */
  fields?: Record<string, unknown>;
}

export type LogFormat = 'text' | 'json';
export type LogTime = 'iso' | 'local' | 'off';

/** How a destination writes lines. */
export interface LineStyle {
  format: LogFormat;
  time: LogTime;
  /** Prefix each line with its syslog priority (`<3>` errors, `<4>` warnings, `<6>` the rest), for journald. */
  priority: boolean;
  /** ANSI colour for the level of nsup's warnings and errors (a terminal without NO_COLOR). */
  color?: boolean;
}

// The fields nsup owns in a JSON line: its own facts about the process win over an app's fields.
const OWNED = ['app', 'job', 'worker', 'pid', 'gen', 'stream'] as const;

/** The record as one line (no newline). */
export function formatRecord(record: LogRecord, style: LineStyle): string {
  const prefix = style.priority ? `<${priorityOf(record)}>` : '';
  return prefix + (style.format === 'json' ? jsonLine(record, style.time) : textLine(record, style));
}

/** The syslog priority of a record: 3 (err) for stderr and error events, 4 for warnings, 7 debug, else 6 (info). */
export function priorityOf(record: LogRecord): number {
  if (record.stream === 'err') return 3;
  switch (record.level) {
    case 'fatal':
    case 'error':
      return 3;
    case 'warn':
      return 4;
    case 'debug':
    case 'trace':
      return 7;
    default:
      return 6;
  }
}

let lastIso = { ms: NaN, text: '' };

/** A timestamp as written: ISO 8601 in UTC, or with the local offset ('2026-12-01T14:26:16.123+01:00'). */
export function formatTime(ms: number, mode: LogTime): string {
  if (mode === 'off' || !Number.isFinite(ms)) return '';
  if (mode === 'iso') {
    // Lines come in bursts within the same millisecond: format each millisecond once.
    if (ms !== lastIso.ms) lastIso = { ms, text: new Date(ms).toISOString() };
    return lastIso.text;
  }
  const d = new Date(ms);
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

// text: `<time> <app>:<slot> pid=<pid> gen=<gen> <out|err> | <msg>` for workers, `<time> <app>:<job> pid=<pid> <out|err> | <msg>`
// for jobs (a job name starts with a letter, a slot is a number: parseLine tells them apart), `<time> [<app>] nsup <level> | <msg>` for events.
function textLine(r: LogRecord, style: LineStyle): string {
  const time = formatTime(r.time, style.time);
  const head: string[] = time ? [time] : [];
  if (r.stream === 'nsup') {
    if (r.app !== undefined) head.push(r.app);
    const level = r.level ?? 'info';
    head.push('nsup', style.color ? colorLevel(level) : level);
  } else {
    head.push(`${r.app ?? '?'}:${r.job ?? r.worker ?? '?'}`);
    if (r.pid !== undefined) head.push(`pid=${r.pid}`);
    if (r.gen !== undefined) head.push(`gen=${r.gen}`);
    head.push(r.stream);
  }
  return `${head.join(' ')} | ${r.stream === 'nsup' ? r.msg.replace(/\r?\n/g, '\\n') : r.msg}`;
}

function jsonLine(r: LogRecord, mode: LogTime): string {
  const time = formatTime(r.time, mode);
  const own: Record<string, unknown> = {};
  if (time) own.time = time;
  if (r.stream === 'nsup') {
    // pino's object, with the time as this destination writes it, and stream 'nsup' like every record.
    const { time: _t, ...fields } = r.fields ?? { level: r.level ?? 'info', msg: r.msg };
    return JSON.stringify({ ...own, ...(r.app !== undefined && fields.app === undefined ? { app: r.app } : {}), ...fields, stream: 'nsup' });
  }
  own.app = r.app;
  if (r.job !== undefined) own.job = r.job;
  own.worker = r.worker;
  own.pid = r.pid;
  own.gen = r.gen;
  own.stream = r.stream;
  if (!r.fields) return JSON.stringify({ ...own, msg: r.msg });
  // An app's own JSON object: its fields are kept (its own time and msg included), nsup's facts about the process win.
  const merged: Record<string, unknown> = { ...own, ...r.fields };
  for (const key of OWNED) merged[key] = own[key];
  return JSON.stringify(merged);
}

/** An app's output line as a JSON object, if it is one (pino, winston json, bunyan). */
export function jsonObjectOf(line: string): Record<string, unknown> | undefined {
  if (line.length < 2 || line.charCodeAt(0) !== 123 /* { */ || line.charCodeAt(line.length - 1) !== 125 /* } */) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const TEXT_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;
/** A job's name (config `jobs[].name`, `nsup logs --job`): a letter first, so `web:backup` never reads as a slot. */
export const JOB_NAME_RE = /^[A-Za-z][A-Za-z0-9._-]*$/;
// `<app>:<slot>` (a number, or '?') or `<app>:<job>`.
const WORKER_SOURCE = new RegExp(`^(.+):(\\d+|\\?|${JOB_NAME_RE.source.slice(1, -1)})$`);

/** A line nsup wrote (text or JSON, with or without a priority prefix) back as a record; null if it is not one of nsup's. */
export function parseLine(line: string): LogRecord | null {
  const body = line.replace(/^<\d>/, '');
  if (body.startsWith('{')) return parseJsonLine(body);
  const bar = body.indexOf(' | ');
  if (bar < 0) return null;
  const head = body.slice(0, bar).split(' ');
  const msg = body.slice(bar + 3);
  let time = NaN;
  if (head.length > 0 && TEXT_TIME.test(head[0]!)) time = Date.parse(head.shift()!);
  const last = head.at(-1);
  if (last === 'out' || last === 'err') {
    const source = WORKER_SOURCE.exec(head[0] ?? '');
    if (!source) return null;
    const record: LogRecord = { time, app: source[1]!, stream: last, msg };
    if (/^\d+$/.test(source[2]!)) record.worker = Number(source[2]);
    else if (source[2] !== '?') record.job = source[2]!;
    for (const token of head.slice(1, -1)) {
      const [key, value] = token.split('=');
      if (key === 'pid') record.pid = Number(value);
      else if (key === 'gen') record.gen = Number(value);
    }
    return record;
  }
  if (head.length >= 2 && head.at(-2) === 'nsup') {
    const app = head.length >= 3 ? head.at(-3) : undefined;
    return { time, ...(app !== undefined ? { app } : {}), stream: 'nsup', level: stripColor(last!), msg };
  }
  return null;
}

function parseJsonLine(line: string): LogRecord | null {
  const o = jsonObjectOf(line);
  if (!o) return null;
  const time = typeof o.time === 'number' ? o.time : typeof o.time === 'string' ? Date.parse(o.time) : NaN;
  const app = typeof o.app === 'string' ? o.app : undefined;
  if (o.stream === 'out' || o.stream === 'err') {
    const { app: _a, job, worker, pid, gen, stream, ...rest } = o;
    // A plain line was written as { time, …, msg }; anything more was the app's own JSON object.
    const plain = Object.keys(rest).every((key) => key === 'time' || key === 'msg') && typeof rest.msg === 'string';
    const record: LogRecord = plain ? { time, stream, msg: rest.msg as string } : { time, stream, msg: JSON.stringify(rest), fields: rest };
    if (app !== undefined) record.app = app;
    if (typeof job === 'string') record.job = job;
    if (typeof worker === 'number') record.worker = worker;
    if (typeof pid === 'number') record.pid = pid;
    if (typeof gen === 'number') record.gen = gen;
    return record;
  }
  if (typeof o.level !== 'string' || typeof o.msg !== 'string') return null;
  return { time, ...(app !== undefined ? { app } : {}), stream: 'nsup', level: o.level, msg: o.msg, fields: o };
}

/** The record as the JSON object `nsup logs --json` prints: the same as a json-format line with an ISO time. */
export function recordObject(record: LogRecord): Record<string, unknown> {
  return JSON.parse(jsonLine(record, 'iso')) as Record<string, unknown>;
}

/**
 * The first `n` characters of `text` as a string of their own. V8 makes a slice of a long string a
 * view that keeps the whole string alive: a kept 1 KiB head of a 64 KiB line would hold all 64 KiB.
 * The UTF-8 round trip copies.
 */
export function headOf(text: string, n: number): string {
  return Buffer.from(text.slice(0, n), 'utf8').toString('utf8');
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

const COLORS: Record<string, string> = { warn: '33', error: '31', fatal: '31' };

function colorLevel(level: string): string {
  const code = COLORS[level];
  return code ? `\u001b[${code}m${level}\u001b[39m` : level;
}

function stripColor(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[\d+m/g, '');
}
