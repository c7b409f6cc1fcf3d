// Validates an untrusted config (a config file's default export, or CLI flags) and fills in
// every default. Each object level is a table of fields (description, default, parser); the
// first problem found throws a ConfigInvalidError whose one message names the file, the key
// path, the value received (with its type) and what is accepted.

import { statSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import ms from 'ms';
import { resolveInstances, type CpuProbeOptions } from '../cpus.ts';
import { ConfigInvalidError } from '../errors.ts';
import { checkSchedule, checkTimezone } from '../jobs/schedule.ts';
import { JOB_NAME_RE } from '../log/record.ts';
import type { ReadyWhen, ResolvedApp, ResolvedConfig, ResolvedJob } from './define.ts';
import { VAR_NAME_RE, buildEnv, envChoice, incrementBase, type EnvChoice } from './env.ts';

/** Where a config came from, and how to resolve its relative paths. */
export interface ResolveContext {
  /** Absolute path of the config file, or null when the config came from CLI flags. Used in messages and as the base dir. */
  file: string | null;
  /** Base directory for relative paths (the config file's folder, or process.cwd() for CLI flags). */
  baseDir: string;
  /** Passed to resolveInstances (tests inject fixture cgroup paths). */
  cpuProbe?: CpuProbeOptions;
  /** Choices for the whole run, from flags whose spec has toRun (e.g. --env). */
  run?: RunChoices;
}

/** What flags choose for the whole run rather than set as a key of each app. */
export interface RunChoices {
  /** `--env`: the named set every app runs with, and the KEY=VALUE variables above every layer. */
  env?: EnvChoice;
}

/** Validate an untrusted config value (whatever the config file's default export is) and fill in defaults. Throws ConfigInvalidError on the FIRST problem found. */
export function resolveConfig(raw: unknown, ctx: ResolveContext): ResolvedConfig {
  const c: Ctx = { where: ctx.file ?? COMMAND_LINE, baseDir: ctx.baseDir, cpuProbe: ctx.cpuProbe, env: ctx.run?.env ?? { name: null, vars: {} } };
  const top = readObject(raw, '', c, TOP, `an object like { apps: ${APPS_EXAMPLE} }`);
  return deepFreeze({ file: ctx.file, apps: top.apps, metrics: top.metrics });
}

/** Parse a duration ('500ms', '5s', '2m' via `ms`, or a non-negative finite number of ms). `where` is the config file's path or 'command line'. */
export function parseDuration(value: unknown, keyPath: string, where: string): number {
  const trimmed = typeof value === 'string' ? value.trim() : '';
  const n: number | undefined =
    typeof value === 'number' ? value : trimmed !== '' ? ms(trimmed as ms.StringValue) : undefined;
  if (n !== undefined && Number.isFinite(n) && n >= 0) return n;
  return bad(where, keyPath, value, "a duration like '500ms', '5s', '2m' or a number of milliseconds");
}

/** Parse a size ('512MB', '1GB', '100kb', or a positive integer of bytes; units B/KB/MB/GB, case-insensitive, 1KB = 1024). */
export function parseSize(value: unknown, keyPath: string, where: string): number {
  const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value) : null;
  const power = SIZE_UNITS.indexOf((m?.[2] ?? 'b').toLowerCase());
  const bytes = typeof value === 'number' ? value : m ? Math.round(Number(m[1]) * 1024 ** power) : NaN;
  if (Number.isSafeInteger(bytes) && bytes > 0) return bytes;
  return bad(where, keyPath, value, "a size like '512MB', '1GB', '100KB' or a positive integer of bytes");
}

// ---------------------------------------------------------------------------------------------
// The tables: one field per accepted key, in the order they are checked and listed.

interface Ctx {
  where: string;
  baseDir: string;
  cpuProbe: CpuProbeOptions | undefined;
  env: EnvChoice;
}
type Parser<T> = (value: unknown, at: string, c: Ctx) => T;
/** The `nsup start` flag that sets a key (flags.ts turns these into yargs options and overrides). */
export interface FlagSpec {
  /** Kebab-case flag name; yargs also accepts its camelCase form. */
  flag: string;
  alias?: string;
  type: 'string' | 'boolean' | 'number';
  array?: boolean;
  describe: string;
  /** The flag's value as the config key's raw value (before validation); default: as given. */
  toConfig?: (value: never) => unknown;
  /** The flag is a choice for the whole run, not the key's value: what it sets in ResolveContext.run (instead of toConfig). */
  toRun?: (value: never) => RunChoices;
  /** 1: the next word is the value even when it starts with '-' (`--node-args "--max-old-space-size=512"`). */
  nargs?: 1;
}
/** One accepted key: what it means, its default (used when the key is absent), its parser, and its flag. */
export interface Field<T> {
  doc: string;
  def: unknown;
  parse: Parser<T>;
  flag?: FlagSpec;
}
export type Table = Record<string, Field<unknown>>;
type Parsed<T extends Table> = { [K in keyof T]: T[K] extends Field<infer R> ? R : never };

const COMMAND_LINE = 'command line';
const APPS_EXAMPLE = "[{ script: './server.js' }]";
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit";
const SIZE_UNITS = ['b', 'kb', 'mb', 'gb'];
const READY_WHEN: readonly ReadyWhen[] = ['listening', 'ready', 'online'];

const field = <T>(doc: string, def: unknown, parse: Parser<T>, flag?: FlagSpec): Field<T> => ({ doc, def, parse, ...(flag ? { flag } : {}) });
const duration = (doc: string, def: string, flag?: FlagSpec) => field(doc, def, (v, at, c) => parseDuration(v, at, c.where), flag);
const boolean = (doc: string, flag?: FlagSpec) => field(doc, false, (v, at, c) => (typeof v === 'boolean' ? v : bad(c.where, at, v, 'true or false')), flag);
const strings = (doc: string, example: string, flag?: FlagSpec) => field(doc, [], (v, at, c) => stringArray(v, at, c, example), flag);
/** A string flag. */
const str = (flag: string, describe: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({ flag, type: 'string', describe, ...extra });
const text = (expected: string): Parser<string> => (v, at, c) =>
  typeof v === 'string' && v !== '' ? v : bad(c.where, at, v, expected);

const RESTART = {
  delay: duration('First delay after a failed start; doubles per consecutive failure.', '100ms'),
  maxDelay: duration('Cap of the doubling delay.', '15s'),
  minUptime: duration('A worker up at least this long counts as healthy.', '30s'),
  maxRestarts: field('Consecutive failed starts after which the app is errored.', Infinity, (v, at, c) =>
    typeof v === 'number' && (v === Infinity || (Number.isInteger(v) && v >= 0))
      ? v
      : bad(c.where, at, v, 'a non-negative integer or Infinity')),
  stopExitCodes: field("Exit codes that mean 'done, do not restart' (PM2's stop_exit_codes): a worker that exits by itself with one is not restarted until a reload, scale or restart.", [], (v, at, c) =>
    Array.isArray(v)
      ? Array.from(v, (x: unknown, i) => (Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 255 ? (x as number) : bad(c.where, `${at}[${i}]`, x, 'an exit code from 0 to 255')))
      : bad(c.where, at, v, 'an array of exit codes, e.g. [0, 42]')),
};

export const WATCH = {
  paths: field("Files or folders to watch, relative to cwd; default: the script's folder.", undefined, (v, at, c) =>
    v === undefined ? undefined : stringArray(v, at, c, "['src', 'config']"),
    str('watch', "rolling reload on file changes; optional paths [default: the script's folder]", { alias: 'w', array: true, toConfig: (paths: string[]) => (paths.some(Boolean) ? paths.filter(Boolean).map((p) => resolve(p)) : undefined) })),
  ignore: strings('Paths or globs not to watch.', "['**/*.log']", str('ignore', 'extra glob not to watch (node_modules, .git, dot-files, *.log always are)', { array: true })),
  debounce: duration('Quiet time after a change before the reload starts.', '300ms'),
};

export const METRICS = {
  port: field('Port of the metrics and health endpoints (0 picks a free one).', undefined, (v, at, c) =>
    typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535
      ? v
      : bad(c.where, at, v, 'an integer port from 0 to 65535'),
    { flag: 'metrics-port', type: 'number', describe: 'serve /metrics, /healthz and /readyz from the primary on this port (0: any free port)' }),
  host: field('Interface to listen on.', '127.0.0.1', text("a host name or IP address, e.g. '127.0.0.1'"), str('metrics-host', 'interface for --metrics-port [default: 127.0.0.1]')),
  dashboard: boolean('Serve the live dashboard at / on the metrics port (read-only; reload and scale take the token in <runtime dir>/dashboard.token).',
    { flag: 'dashboard', type: 'boolean', describe: 'serve a live dashboard at / on --metrics-port (read-only without the token in the runtime dir) [default: off]' }),
};

export const LOG_ROTATE = {
  size: field('Rotate a log file when it grows past this size.', '10MB', (v, at, c) => parseSize(v, at, c.where),
    str('log-max-size', "rotate a log file past this size, e.g. '50MB' [default: 10MB]")),
  every: field("Also rotate on a schedule: '1d' (at midnight), '12h', '1h' (whole hours or days).", undefined, (v, at, c) =>
    v === undefined ? null : typeof v === 'string' && /^\s*\d+\s*[hd]\s*$/.test(v) && Number.parseInt(v, 10) > 0 ? v.replace(/\s+/g, '') : bad(c.where, at, v, "'1d', '7d', '12h' or '1h'"),
    str('log-rotate', "also rotate log files on a schedule: 1d (at midnight), 12h, 1h")),
  keep: field('How many rotated files to keep (older ones are deleted).', 10, (v, at, c) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : bad(c.where, at, v, 'a positive integer'),
    { flag: 'log-keep', type: 'number', describe: 'rotated log files to keep [default: 10]' }),
  compress: boolean('gzip rotated files (<file>.1.gz).', { flag: 'log-compress', type: 'boolean', describe: 'gzip rotated log files' }),
};

// A job's or recycle's time zone (null: the supervisor's local time).
const timezone = (doc: string) => field(doc, undefined, (v, at, c): string | null =>
  v === undefined ? null : typeof v === 'string' && checkTimezone(v) ? v : bad(c.where, at, v, "an IANA time zone such as 'Europe/Paris' or 'UTC'"));
const JOBS_EXAMPLE = "[{ name: 'backup', schedule: '0 4 * * *', script: './jobs/backup.js' }]";

/** One scheduled job; its script and nodeArgs are resolved against the app in resolveApp. */
export const JOB = {
  // A letter first: log lines name a job's output `web:backup`, and a digit there would be a slot.
  name: field("The job's name: letters, digits, '.', '_' and '-', starting with a letter; unique within the app.", undefined, (v, at, c) =>
    typeof v === 'string' && JOB_NAME_RE.test(v) ? v : bad(c.where, at, v, "a job name of letters, digits, '.', '_' and '-', starting with a letter")),
  schedule: field("A cron expression: 5 fields, or 6 with seconds first ('*/10 * * * * *').", undefined, text("a cron expression, e.g. '0 4 * * *'")),
  timezone: timezone("An IANA time zone for the schedule ('Europe/Paris', 'UTC'); default: the supervisor's local time."),
  script: field("The job's script, relative to the app's cwd.", undefined, text("a path to the job's script, e.g. './jobs/backup.js'")),
  args: strings('Arguments for the script.', "['--full']"),
  nodeArgs: field("Arguments for node, before the script; default: the app's nodeArgs.", undefined, (v, at, c) =>
    v === undefined ? undefined : stringArray(v, at, c, "['--max-old-space-size=512']")),
  env: field("Variables for the job, above the app's env.", {}, parseEnv),
  timeout: field("SIGTERM a run past this ('10m'), SIGKILL after the app's killTimeout; 'off': no limit.", 'off', (v, at, c) => {
    if (v === 'off' || v === false) return null;
    // 0 would SIGTERM every run as it starts: not a limit anyone means.
    const timeoutMs = parseDuration(v, at, c.where);
    return timeoutMs > 0 ? timeoutMs : bad(c.where, at, v, "a duration above 0 like '30s' or '10m', or 'off'");
  }),
  overlap: field("A tick due while the last run still runs: 'skip' it or 'queue' it (at most 10 queued).", 'skip', (v, at, c) =>
    v === 'skip' || v === 'queue' ? v : bad(c.where, at, v, "'skip' or 'queue'")),
};

/** `recycle` in its object form. */
export const RECYCLE = {
  schedule: field("A cron expression: 5 fields, or 6 with seconds first.", undefined, text("a cron expression, e.g. '0 4 * * *'")),
  timezone: timezone("An IANA time zone for the schedule; default: the supervisor's local time."),
};

export const APP = {
  name: field('App name; default: the script file name without extension.', undefined, (v, at, c) =>
    v === undefined || (typeof v === 'string' && NAME_RE.test(v)) ? v : bad(c.where, at, v, `a name of ${NAME_RULE}`)),
  script: field('Script path, relative to cwd.', undefined, text("a path to the app's script, e.g. './server.js'")),
  instances: field("Worker count: 'max', -1 (max - 1) or a positive integer.", 'max', (v, at, c) =>
    v === 'max' || v === -1 || (typeof v === 'number' && Number.isSafeInteger(v) && v > 0)
      ? resolveInstances(v, c.cpuProbe)
      : bad(c.where, at, v, "'max', -1, or a positive integer"),
    str('instances', "workers: 'max' (CPUs this process may use), -1 (max-1) or N [default: max]", { alias: 'i', toConfig: (v: string) => (/^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v.trim()) : v.trim()) })),
  args: strings('Arguments for the script.', "['--port', '3000']"),
  nodeArgs: strings('Arguments for node, before the script.', "['--max-old-space-size=512']",
    str('node-args', 'arguments for node in each worker, e.g. "--max-old-space-size=512"', { nargs: 1, toConfig: (v: string) => v.split(/\s+/).filter(Boolean) })),
  cwd: field("Workers' working directory, relative to the config file's folder.", '.', parseCwd),
  env: field('Extra environment variables for the workers.', {}, parseEnv,
    str('env', 'KEY=VALUE for the workers, above every other layer (repeatable); a word without = chooses the env set (envs) of that name', { array: true, toRun: (words: string[]) => ({ env: envChoice(words.map(String)) }) })),
  envs: field("Named env sets, e.g. { production: { NODE_ENV: 'production' } }: the one chosen with --env <name> goes above env.", {}, parseEnvSets),
  envFile: field("Env files read with Node's parser (util.parseEnv), relative to cwd; later files win, env wins over them. Re-read at each reload.", [], (v, at, c) =>
    typeof v === 'string' ? [v] : stringArray(v, at, c, "'.env' or ['.env', '.env.local']"),
    str('env-file', 'an env file for the workers, read with util.parseEnv (repeatable; relative to the current directory)', { array: true, toConfig: (paths: string[]) => paths.map((p) => resolve(String(p))) })),
  instanceVar: field("The variable holding each worker's slot (0..n-1), PM2's instance_var.", 'NODE_APP_INSTANCE', varName,
    str('instance-var', "the variable holding each worker's slot [default: NODE_APP_INSTANCE]")),
  incrementVar: field("A variable (e.g. 'PORT') whose value each worker gets plus its slot: worker 0 the base, worker 1 base+1, … (PM2's increment_var).", undefined, (v, at, c) =>
    v === undefined ? null : varName(v, at, c),
    str('increment-var', "a variable (e.g. PORT) each worker gets plus its slot: base, base+1, …")),
  watch: field('Rolling reload on file changes: true, false or { paths, ignore, debounce }.', false, (v, at, c) =>
    v === false ? null : readObject(v === true ? {} : v, at, c, WATCH, "true, false or an object like { paths: ['src'] }")),
  restart: field('Crash-restart policy.', {}, (v, at, c) => readObject(v, at, c, RESTART, "an object like { delay: '1s' }")),
  killTimeout: duration('How long a stopping worker may drain and run its shutdown code before SIGKILL.', '5s', str('kill-timeout', "drain and shutdown time before SIGKILL, e.g. '5s' [default: 5s]")),
  killSignal: field("The signal whose listeners in the app run as its own shutdown code: 'SIGTERM' (Kubernetes, systemd, Docker) or 'SIGINT' (PM2-style apps).", 'SIGTERM', (v, at, c) =>
    v === 'SIGTERM' || v === 'SIGINT' ? v : bad(c.where, at, v, "'SIGTERM' or 'SIGINT'"),
    str('kill-signal', "the app's shutdown listeners nsup runs after the drain: SIGTERM or SIGINT [default: SIGTERM]")),
  listenTimeout: duration('How long a new worker may take to be up (listen, call ready(), or run).', '10s', str('listen-timeout', 'time for a new worker to be up (see --ready-when) [default: 10s]')),
  waitReady: boolean("PM2's name for readyWhen: 'ready'.", { flag: 'wait-ready', type: 'boolean', describe: "same as --ready-when ready (PM2's name)" }),
  readyWhen: field("When a new worker counts as up: 'listening' (on every address its generation listens on), 'ready' (it called ready()), or 'online' (its process runs; workers without a server).", undefined, (v, at, c): ReadyWhen | undefined =>
    v === undefined || READY_WHEN.includes(v as ReadyWhen) ? (v as ReadyWhen | undefined) : bad(c.where, at, v, "'listening', 'ready' or 'online'"),
    str('ready-when', "when a new worker is up: listening (on every address), ready (it called ready(); no connections before), online (no server) [default: listening]")),
  listen: field("Addresses a worker must listen on to be up (readyWhen 'listening'): ports, 'host:port' or unix socket paths.", [], parseListen,
    str('listen', 'an address a worker must listen on to be up: a port, host:port or a socket path (repeatable)', { array: true, toConfig: (v: string[]) => v.map((a) => (/^\d+$/.test(a) ? Number(a) : a)) })),
  sticky: boolean('Route every connection of a client (by its IP address) to the same worker: socket.io polling, in-memory sessions.', { flag: 'sticky', type: 'boolean', describe: 'route every connection of a client (by IP address) to the same worker (socket.io polling, in-memory sessions)' }),
  primary: field('Modules loaded in the primary before this app forks its workers (default export setup({ cluster, app, logger }), optional dispose returned): paths relative to cwd.', [], (v, at, c) =>
    typeof v === 'string' ? [v] : stringArray(v, at, c, "'./cluster-setup.js' or ['./a.js', './b.ts']")),
  reloadBatch: field('How many new workers a rolling reload starts at once.', 1, (v, at, c) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : bad(c.where, at, v, 'a positive integer')),
  heartbeatTimeout: field("Replace a worker whose event loop is blocked this long: a duration, or 'off'.", 'off', (v, at, c) =>
    v === 'off' || v === false ? null : parseDuration(v, at, c.where),
    str('heartbeat-timeout', "replace a worker whose event loop is blocked this long, e.g. '30s' [default: off]")),
  serialization: field("IPC encoding of messages between workers: 'json', or 'advanced' (Map, Set, Buffer, BigInt survive).", 'json', (v, at, c) =>
    v === 'json' || v === 'advanced' ? v : bad(c.where, at, v, "'json' or 'advanced'")),
  logFormat: field("Format of every log line (worker output and nsup's events): 'text', or 'json' (one object per line; an app's own JSON lines are merged with nsup's fields).", 'text', (v, at, c) =>
    v === 'text' || v === 'json' ? v : bad(c.where, at, v, "'text' or 'json'"),
    str('log-format', "log lines as text or json (one object per line, app JSON merged) [default: text]")),
  logTime: field("Timestamp of each log line: 'iso' (UTC), 'local' (ISO 8601 with the local offset) or 'off'; default 'iso', 'off' under systemd's journal (which stamps lines itself).", undefined, (v, at, c) =>
    v === undefined || v === 'iso' || v === 'local' || v === 'off' ? v : bad(c.where, at, v, "'iso', 'local' or 'off'"),
    str('log-time', "timestamp on each log line: iso, local or off [default: iso; off under journald]")),
  logFile: field("File for the app's stdout and nsup's events about it (PM2's out_file), relative to cwd; '/dev/null' discards. Default: <app>.log in the runtime dir with -d, none in the foreground.", undefined, (v, at, c) =>
    v === undefined ? null : text("a file path, e.g. './logs/app.log', or '/dev/null'")(v, at, c),
    str('log-file', "write the app's stdout and events to this file too ('/dev/null': discard) [default with -d: <app>.log in the runtime dir]")),
  errorFile: field("File for the app's stderr (PM2's error_file), relative to cwd; '/dev/null' discards. Default: the same file as logFile.", undefined, (v, at, c) =>
    v === undefined ? null : text("a file path, e.g. './logs/app.err.log', or '/dev/null'")(v, at, c),
    str('error-file', "write the app's stderr to this file ('/dev/null': discard) [default: the --log-file]")),
  logRotate: field("Rotation of the app's log files: false (leave it to logrotate and SIGUSR2), or { size, every, keep, compress }.", {}, (v, at, c) =>
    v === false ? null : readObject(v, at, c, LOG_ROTATE, "false or an object like { size: '10MB', every: '1d', keep: 10, compress: true }")),
  maxMemory: field('Replace a worker whose RSS grows above this.', undefined, (v, at, c) =>
    v === undefined ? null : parseSize(v, at, c.where),
    str('max-memory', "replace a worker (new one first, then drain) above this RSS, e.g. '512MB'")),
  jobs: field("Scheduled jobs, each run once per tick for the whole app as its own process: [{ name, schedule, script, timezone?, args?, nodeArgs?, env?, timeout?, overlap? }].", [], (v, at, c) =>
    Array.isArray(v) ? Array.from(v, (job: unknown, i) => readObject(job, `${at}[${i}]`, c, JOB, `a job object like ${JOBS_EXAMPLE.slice(1, -1)}`)) : bad(c.where, at, v, `an array of jobs, e.g. ${JOBS_EXAMPLE}`)),
  singleton: boolean('Exactly one worker that must never run twice (a queue consumer, a lock holder): reloads stop the old worker before starting the new one; scale is refused.',
    { flag: 'singleton', type: 'boolean', describe: 'one worker that never runs twice: reloads stop it before starting the new one (a short gap)' }),
  maxRequests: field("Replace a worker (rolling, one at a time) once it served this many requests (WebSockets and event streams count), or 'off'.", 'off', (v, at, c) =>
    v === 'off' || v === false ? null : typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : bad(c.where, at, v, "a positive integer of requests, e.g. 1000, or 'off'"),
    { flag: 'max-requests', type: 'number', describe: 'replace a worker (new one first, then drain) after it served this many requests [default: off]' }),
  maxRequestsJitter: field('Up to this many more requests per worker, drawn at random, so that workers are not all replaced at once.', 0, (v, at, c) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : bad(c.where, at, v, 'a non-negative integer of requests, e.g. 100'),
    { flag: 'max-requests-jitter', type: 'number', describe: 'add 0 to this many requests to --max-requests, per worker [default: 0]' }),
  recycle: field("A rolling reload on a schedule (never a restart): a cron expression, { schedule, timezone }, or 'off'.", 'off', parseRecycle,
    str('recycle', "a rolling reload on a cron schedule, e.g. '0 4 * * *' [default: off]")),
};

const TOP = {
  apps: field('The apps to supervise.', undefined, parseApps),
  metrics: field('Metrics and health endpoints; off unless set.', undefined, (v, at, c) => {
    if (v === undefined) return null;
    // The dashboard lives on the metrics port: asking for it alone (--dashboard) names what is missing.
    if (isPlainObject(v) && v.dashboard === true && v.port === undefined) {
      fail(c.where, join(at, 'port'), 'the dashboard is served on the metrics port, and none is set. Set metrics.port (or --metrics-port, e.g. --metrics-port 9209; 0 picks a free one), or remove dashboard.');
    }
    return readObject(v, at, c, METRICS, 'an object like { port: 9209 }');
  }),
};

// ---------------------------------------------------------------------------------------------
// Helpers

/** Checks `value` is a plain object with only the table's keys, then parses each field (or its default). */
function readObject<T extends Table>(value: unknown, at: string, c: Ctx, table: T, expected: string): Parsed<T> {
  if (!isPlainObject(value)) return bad(c.where, at, value, expected);
  const accepted = Object.keys(table);
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(table, key)) continue;
    const near = nearest(key, accepted);
    const hint = RENAMED[key] !== undefined ? `it is now ${RENAMED[key]}. ` : near === undefined ? '' : `did you mean '${near}'? `;
    fail(c.where, join(at, key), `unknown key; ${hint}Accepted keys: ${accepted.join(', ')}.`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(table)) {
    out[key] = f.parse(value[key] === undefined ? f.def : value[key], join(at, key), c);
  }
  return out as Parsed<T>;
}

/** `apps`: a non-empty array of apps with unique names. */
function parseApps(value: unknown, at: string, c: Ctx): ResolvedApp[] {
  if (!Array.isArray(value)) return bad(c.where, at, value, `an array of apps, e.g. apps: ${APPS_EXAMPLE}`);
  if (value.length === 0) return bad(c.where, at, value, `at least one app, e.g. apps: ${APPS_EXAMPLE}`);
  const apps: ResolvedApp[] = [];
  for (let i = 0; i < value.length; i++) {
    const app = resolveApp(value[i], `${at}[${i}]`, c);
    const other = apps.findIndex((a) => a.name === app.name);
    if (other >= 0) {
      const from = isPlainObject(value[i]) && value[i].name !== undefined ? '' : ' (from the script file name)';
      fail(c.where, `${at}[${i}].name`, `duplicate app name "${app.name}"${from}; apps[${other}] has it too. Set a distinct name.`);
    }
    apps.push(app);
  }
  const chosen = c.env.name;
  if (chosen !== null && !apps.some((app) => app.envSet === chosen)) {
    const defined = [...new Set(value.flatMap((app: unknown) => (isPlainObject(app) && isPlainObject(app.envs) ? Object.keys(app.envs) : [])))];
    const where = defined.length > 0 ? `the apps define: ${defined.join(', ')}` : 'no app defines envs';
    fail(c.where, '--env', `no app has an env set named '${chosen}' (${where}). Choose a defined set, add envs: { ${/^[A-Za-z_$][\w$]*$/.test(chosen) ? chosen : JSON.stringify(chosen)}: { … } } to an app, or pass variables as --env KEY=VALUE.`);
  }
  return apps;
}

/** One app: the table's fields, then the parts that depend on each other (script, name, watch paths). */
function resolveApp(value: unknown, at: string, c: Ctx): ResolvedApp {
  const a = readObject(value, at, c, APP, `an app object like { script: './server.js' }`);
  const script = resolve(a.cwd, a.script);
  const stat = statSync(script, { throwIfNoEntry: false });
  if (!stat?.isFile()) {
    const problem = stat ? 'not a file' : 'file not found';
    fail(c.where, `${at}.script`, `${problem}: ${script} (resolved from '${a.script}' against ${a.cwd}). Fix the path or set cwd.`);
  }
  const name = a.name ?? basename(script, extname(script));
  if (!NAME_RE.test(name)) {
    fail(c.where, `${at}.name`, `the default name "${name}" (the script file name) is not valid; set name to ${NAME_RULE}.`);
  }
  const watch = a.watch && {
    paths: a.watch.paths?.map((p) => resolve(a.cwd, p)) ?? [dirname(script)],
    ignore: a.watch.ignore,
    debounceMs: a.watch.debounce,
  };
  const r = a.restart;
  if (a.waitReady && a.readyWhen !== undefined && a.readyWhen !== 'ready') {
    fail(c.where, `${at}.waitReady`, `waitReady: true means readyWhen: 'ready', but readyWhen is '${a.readyWhen}'. Keep one of the two.`);
  }
  const readyWhen: ReadyWhen = a.readyWhen ?? (a.waitReady ? 'ready' : 'listening');
  const files = a.envFile.map((path, i) => ({ path: resolve(a.cwd, path), at: typeof (value as { envFile?: unknown }).envFile === 'string' ? `${at}.envFile` : `${at}.envFile[${i}]` }));
  const { env, set } = buildEnv({ files, env: a.env, sets: a.envs, choice: c.env }, (where, detail) => fail(c.where, where, detail));
  if (a.incrementVar !== null && a.incrementVar === a.instanceVar) {
    fail(c.where, `${at}.incrementVar`, `${a.incrementVar} is the instanceVar too; one variable cannot hold both the slot and base+slot. Choose another instanceVar or incrementVar.`);
  }
  const increment = a.incrementVar === null ? null : { name: a.incrementVar, base: incrementBase(a.incrementVar, env, process.env, `${at}.incrementVar`, (where, detail) => fail(c.where, where, detail)) };
  const raw = value as { instances?: unknown };
  if (a.singleton && raw.instances !== undefined && raw.instances !== 1) {
    fail(c.where, `${at}.instances`, `singleton: true runs exactly one worker, but instances is ${typeof raw.instances === 'string' ? `'${raw.instances}'` : String(raw.instances)}. Remove instances or set it to 1.`);
  }
  if (a.maxRequestsJitter > 0 && a.maxRequests === null) {
    fail(c.where, `${at}.maxRequestsJitter`, 'maxRequestsJitter adds to maxRequests, which is not set. Set maxRequests (e.g. 1000) or remove maxRequestsJitter.');
  }
  if (a.listen.length > 0 && readyWhen !== 'listening') {
    fail(c.where, `${at}.listen`, `listen names the addresses a worker must listen on with readyWhen 'listening'; this app has readyWhen '${readyWhen}'. Remove listen or readyWhen.`);
  }
  return {
    name,
    script,
    instances: a.singleton ? 1 : a.instances.count,
    instancesSource: a.singleton ? 'singleton: true' : a.instances.source,
    args: a.args,
    nodeArgs: a.nodeArgs,
    cwd: a.cwd,
    env,
    envSet: set,
    envFiles: files.map((f) => f.path),
    instanceVar: a.instanceVar,
    incrementVar: increment,
    watch,
    restart: { delayMs: r.delay, maxDelayMs: r.maxDelay, minUptimeMs: r.minUptime, maxRestarts: r.maxRestarts, stopExitCodes: r.stopExitCodes },
    killTimeoutMs: a.killTimeout,
    listenTimeoutMs: a.listenTimeout,
    readyWhen,
    listen: a.listen.map((address) => resolveListenAddress(address, a.cwd)),
    sticky: a.sticky,
    primary: a.primary.map((path, i) => resolveModule(path, a.cwd, typeof (value as { primary?: unknown }).primary === 'string' ? `${at}.primary` : `${at}.primary[${i}]`, c)),
    killSignal: a.killSignal,
    reloadBatch: a.reloadBatch,
    logs: {
      format: a.logFormat,
      time: a.logTime ?? null,
      file: a.logFile === null ? null : resolve(a.cwd, a.logFile),
      errorFile: a.errorFile === null ? null : resolve(a.cwd, a.errorFile),
      rotate: a.logRotate && { sizeBytes: a.logRotate.size, every: a.logRotate.every, keep: a.logRotate.keep, compress: a.logRotate.compress },
    },
    serialization: a.serialization,
    heartbeatTimeoutMs: a.heartbeatTimeout,
    maxMemoryBytes: a.maxMemory,
    jobs: resolveJobs(a.jobs, a.cwd, a.nodeArgs, `${at}.jobs`, c),
    singleton: a.singleton,
    maxRequests: a.maxRequests,
    maxRequestsJitter: a.maxRequestsJitter,
    recycle: a.recycle,
  };
}

/** An app's jobs: unique names, a schedule that can run, a script that exists (resolved against the app's cwd). */
function resolveJobs(jobs: Array<Parsed<typeof JOB>>, cwd: string, nodeArgs: string[], at: string, c: Ctx): ResolvedJob[] {
  return jobs.map((job, i) => {
    const other = jobs.findIndex((j) => j.name === job.name);
    if (other < i) fail(c.where, `${at}[${i}].name`, `duplicate job name "${job.name}"; jobs[${other}] has it too. Set a distinct name.`);
    const why = checkSchedule(job.schedule, job.timezone);
    if (why !== null) bad(c.where, `${at}[${i}].schedule`, job.schedule, why);
    const script = resolve(cwd, job.script);
    const stat = statSync(script, { throwIfNoEntry: false });
    if (!stat?.isFile()) {
      fail(c.where, `${at}[${i}].script`, `${stat ? 'not a file' : 'file not found'}: ${script} (resolved from '${job.script}' against ${cwd}). Fix the path or set cwd.`);
    }
    return { name: job.name, schedule: job.schedule, timezone: job.timezone, script, args: job.args, nodeArgs: job.nodeArgs ?? nodeArgs, env: job.env, timeoutMs: job.timeout, overlap: job.overlap };
  });
}

/** `recycle`: 'off', a cron expression, or { schedule, timezone }; the schedule must be able to run. */
function parseRecycle(value: unknown, at: string, c: Ctx): ResolvedApp['recycle'] {
  if (value === 'off' || value === false) return null;
  const expected = "a cron expression such as '0 4 * * *', an object like { schedule: '0 4 * * *', timezone: 'Europe/Paris' }, or 'off'";
  const r = typeof value === 'string' ? { schedule: value, timezone: null } : isPlainObject(value) ? readObject(value, at, c, RECYCLE, expected) : bad(c.where, at, value, expected);
  const why = r.schedule.trim() === '' ? expected : checkSchedule(r.schedule, r.timezone);
  if (why !== null) bad(c.where, typeof value === 'string' ? at : `${at}.schedule`, r.schedule, why);
  return { schedule: r.schedule, timezone: r.timezone };
}

/** `listen`: ports (1-65535), 'host:port' strings, or unix socket paths. */
function parseListen(value: unknown, at: string, c: Ctx): Array<number | string> {
  const expected = "a port (3000), 'host:port' ('127.0.0.1:9000') or a unix socket path ('./app.sock')";
  if (!Array.isArray(value)) return bad(c.where, at, value, `an array of addresses, e.g. [3000, './app.sock']`);
  return Array.from(value, (x: unknown, i) => {
    if (typeof x === 'number') return Number.isInteger(x) && x > 0 && x <= 65535 ? x : bad(c.where, `${at}[${i}]`, x, expected);
    if (typeof x !== 'string' || x === '') return bad(c.where, `${at}[${i}]`, x, expected);
    const port = /:(\d+)$/.exec(x)?.[1];
    if (port !== undefined && !x.includes('/') && !(Number(port) > 0 && Number(port) <= 65535)) return bad(c.where, `${at}[${i}]`, x, expected);
    return x;
  });
}

/** A listen address in the form the primary reports listens in: ':3000', 'host:3000' or an absolute socket path. */
function resolveListenAddress(address: number | string, cwd: string): string {
  if (typeof address === 'number') return `:${address}`;
  if (/^\d+$/.test(address)) return `:${address}`;
  if (!address.includes('/') && /:\d+$/.test(address)) return address;
  return resolve(cwd, address);
}

/** A module path (a primary hook) that must be a file, resolved against cwd. */
function resolveModule(path: string, cwd: string, at: string, c: Ctx): string {
  const file = resolve(cwd, path);
  if (statSync(file, { throwIfNoEntry: false })?.isFile()) return file;
  return fail(c.where, at, `file not found: ${file} (resolved from '${path}' against ${cwd}). Fix the path.`);
}

/** `cwd`: an existing directory, resolved against the base dir. */
function parseCwd(value: unknown, at: string, c: Ctx): string {
  const dir = resolve(c.baseDir, text("a directory path, e.g. './app'")(value, at, c));
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return dir;
  return fail(c.where, at, `directory not found: ${dir} (resolved from '${String(value)}' against ${c.baseDir}). Fix the path.`);
}

/** `env`: an object of string, number or boolean values, stringified. Messages show a value's type, never the value (it may be a secret). */
function parseEnv(value: unknown, at: string, c: Ctx): Record<string, string> {
  if (!isPlainObject(value)) return fail(c.where, at, `got ${hidden(value)}; expected an object of variables, e.g. { NODE_ENV: 'production' }.`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      fail(c.where, join(at, k), `got ${hidden(v)}; expected a string, number or boolean.`);
    }
    env[k] = String(v);
  }
  return env;
}

/** `envs`: named env sets, each an env object. */
function parseEnvSets(value: unknown, at: string, c: Ctx): Record<string, Record<string, string>> {
  if (!isPlainObject(value)) return fail(c.where, at, `got ${hidden(value)}; expected an object of named env sets, e.g. { production: { NODE_ENV: 'production' } }.`);
  return Object.fromEntries(Object.entries(value).map(([name, set]) => [name, parseEnv(set, join(at, name), c)]));
}

/** An environment variable's name (instanceVar, incrementVar). */
function varName(value: unknown, at: string, c: Ctx): string {
  return typeof value === 'string' && VAR_NAME_RE.test(value) ? value : bad(c.where, at, value, "a variable name of letters, digits and '_', e.g. 'PORT'");
}

/** A value in an env message, without its contents: '{…} (object)', '[…] (array)', or its type alone. */
function hidden(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  const kind = kindOf(value);
  if (kind === 'object' || kind === 'array') return `${kind === 'object' ? '{…}' : '[…]'} (${kind})`;
  return kind === 'null' ? 'null' : `a ${kind} (not shown: env values may be secrets)`;
}

function stringArray(value: unknown, at: string, c: Ctx, example: string): string[] {
  if (!Array.isArray(value)) return bad(c.where, at, value, `an array of strings, e.g. ${example}`);
  return Array.from(value, (x: unknown, i) => (typeof x === 'string' ? x : bad(c.where, `${at}[${i}]`, x, 'a string')));
}

/** Throws the one error shape: `Invalid config in <file> at <keyPath>: <detail>`. */
function fail(where: string, at: string, detail: string): never {
  const origin = where === COMMAND_LINE ? 'on the command line' : `in ${where}`;
  throw new ConfigInvalidError(at, `Invalid config ${origin} at ${at || 'the top level'}: ${detail}`);
}

/** A wrong value: what was received (value and type) and what is accepted. */
function bad(where: string, at: string, value: unknown, expected: string): never {
  const got = value === undefined ? 'nothing (the key is missing)' : `${render(value)} (${kindOf(value)})`;
  return fail(where, at, `got ${got}; expected ${expected}.`);
}

/** A compact rendering of a value for messages (at most ~60 characters). */
function render(value: unknown, nested = false): string {
  let s: string;
  if (typeof value === 'string') s = JSON.stringify(value);
  else if (Array.isArray(value)) {
    const items = value.slice(0, 3).map((x: unknown) => render(x, true));
    s = nested && value.length > 0 ? '[…]' : `[${items.join(', ')}${value.length > 3 ? ', …' : ''}]`;
  } else if (typeof value === 'object' && value !== null) s = Object.keys(value).length === 0 ? '{}' : '{…}';
  else if (typeof value === 'function') s = `function ${value.name || '(anonymous)'}`;
  else if (typeof value === 'bigint') s = `${value}n`;
  else s = String(value);
  if (s.length <= 60) return s;
  return typeof value === 'string' ? `${s.slice(0, 58)}…"` : `${s.slice(0, 59)}…`;
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `apps[0]` + `restart` -> `apps[0].restart`; keys that are not identifiers are bracket-quoted. */
function join(at: string, key: string): string {
  if (!/^[A-Za-z_$][\w$]*$/.test(key)) return `${at}[${JSON.stringify(key)}]`;
  return at === '' ? key : `${at}.${key}`;
}

/**
 * Keys nsup once had, and PM2's keys (an ecosystem file's app keys written in an nsup config), with
 * what replaced them: the unknown-key message says "it is now <this>". A whole PM2 file is read as
 * one by `nsup start ecosystem.config.js`, or converted by `nsup import` (config/pm2-keys.ts).
 */
const RENAMED: Record<string, string> = {
  jsonLogs: "logFormat: 'json' (--log-format json)",
  max_memory_restart: "maxMemory ('512MB')",
  exec_mode: 'implied: nsup always runs cluster workers (remove the key)',
  exec_interpreter: 'implied: workers run on the Node.js that runs nsup (remove the key)',
  interpreter: 'implied: workers run on the Node.js that runs nsup (remove the key)',
  node_args: "nodeArgs (['--max-old-space-size=512'])",
  interpreter_args: "nodeArgs (['--max-old-space-size=512'])",
  env_production: 'envs: { production: { … } }, chosen with --env production',
  env_development: 'envs: { development: { … } }, chosen with --env development',
  env_staging: 'envs: { staging: { … } }, chosen with --env staging',
  env_test: 'envs: { test: { … } }, chosen with --env test',
  deploy: 'the nsup deploy command, run where the code is (docs/deploy.md); nsup does not copy code to servers',
  kill_timeout: "killTimeout ('5s')",
  listen_timeout: "listenTimeout ('10s')",
  wait_ready: "waitReady: true (or readyWhen: 'ready')",
  min_uptime: "restart.minUptime ('30s')",
  max_restarts: 'restart.maxRestarts (10)',
  restart_delay: "restart.delay ('1s'), doubling per failed start up to restart.maxDelay",
  exp_backoff_restart_delay: "restart.delay ('100ms'), doubling per failed start up to restart.maxDelay",
  autorestart: 'restart.stopExitCodes ([0]) for exits that mean done, and restart.maxRestarts',
  stop_exit_codes: 'restart.stopExitCodes ([0, 42])',
  instance_var: "instanceVar ('NODE_APP_INSTANCE')",
  increment_var: "incrementVar ('PORT')",
  ignore_watch: "watch.ignore (['**/*.log'])",
  watch_delay: "watch.debounce ('300ms')",
  out_file: "logFile ('./logs/app.log')",
  error_file: "errorFile ('./logs/app.err.log')",
  log_file: "logFile (stdout and nsup's events; stderr too unless errorFile is set)",
  merge_logs: 'implied: nsup writes one file for every worker (remove the key)',
  combine_logs: 'implied: nsup writes one file for every worker (remove the key)',
  log_date_format: "logTime ('iso' or 'local'; nsup writes ISO 8601 times)",
  log_type: "logFormat ('json')",
  time: "logTime ('iso', 'local' or 'off')",
  source_map_support: "nodeArgs: ['--enable-source-maps']",
  shutdown_with_message: "onShutdown() from nsup/worker (nsup sends no 'shutdown' message)",
  cron_restart: "recycle ('0 4 * * *'): a rolling reload on a schedule, never a restart",
};

/** The accepted key closest to `key` (edit distance at most 2), if any. */
function nearest(key: string, accepted: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of accepted) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** Freezes an object graph (the resolved config is shared and must not change under anyone). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
