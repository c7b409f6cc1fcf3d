// The body of `nsup logs <app>`: find the supervisor that runs the app and read what it wrote
// (its files, or its memory when it writes none), or a stopped daemon's leftover file; then
// optionally follow new records, or (--flush) empty the files. Imported lazily.
import { existsSync } from 'node:fs';
import { liveSupervisors, request, type LiveSupervisor } from '../control/client.ts';
import { logPath, runtimeDir } from '../control/runtime-dir.ts';
import type { SupervisorStatus } from '../control/types.ts';
import { ControlError, EXIT, UsageError } from '../errors.ts';
import { matches, parseLogQuery, type LogFlags, type LogQuery } from '../log/log-filter.ts';
import { fromItems, formatItem, itemOfRecordJson, readLogFiles, Ring, rotatedSiblings, emptyLogFile, selectLogs, type LogItem } from '../log/read-logs.ts';
import type { LogStream } from '../log/record.ts';

/** The command's arguments, as yargs gives them (values unvalidated). */
export interface LogsArgs extends LogFlags {
  name: string;
  json?: boolean | undefined;
  follow?: boolean | undefined;
  flush?: boolean | undefined;
}

const STATUS_TIMEOUT_MS = 5000;
// Reading the supervisor's memory is one reply of at most its ring of recent lines.
const REQUEST_TIMEOUT_MS = 10_000;
// A followed record this much older than the moment the follow began cannot be one of its lines:
// only newer records read from the files are remembered to print nothing twice.
const FOLLOW_OVERLAP_MS = 2000;
// How many of the last lines read are checked against the followed records: more than a busy app
// writes while its files are read.
const FOLLOW_LAST_READ = 50_000;

/** `nsup logs <app> [--since T] [--until T] [--grep RE] [--worker N] [--job J] [--stream S] [--json] [-n N] [-f] [--flush]` */
export async function runLogs(args: LogsArgs): Promise<number> {
  const app = args.name;
  if (app === 'all') throw new UsageError('nsup logs takes one app name (see nsup status for the names)');
  if (args.flush) return await flush(app, args);
  const query = parseLogQuery(args);
  const out = new LineWriter();
  const supervisor = await supervisorOf(app);
  if (!supervisor) {
    const path = logPath(runtimeDir(), app);
    if (!(await hasFiles(path))) throw new ControlError(noSupervisorNoFile(app, path));
    await selectLogs([readLogFiles(path, warn)], query, (item) => out.item(item, args.json));
    out.flush();
    if (args.follow) {
      throw new ControlError(`no supervisor runs '${app}': nothing to follow (the lines above are from its last log file, ${path}). Start it again with nsup start, then nsup logs ${app} -f.`);
    }
    return EXIT.ok;
  }
  // Subscribe before reading, so that no record written in between is lost; the records read
  // that the follower also receives are printed once (see Follower).
  const follower = args.follow ? new Follower(supervisor.path, app, query) : undefined;
  const onRead = follower ? (item: LogItem) => follower.read(item) : undefined;
  const files = await filesOf(supervisor, app, query.filter.stream);
  if (files === null) {
    // No files (a foreground supervisor without logFile): its memory of the app's recent lines.
    const items: LogItem[] = [];
    await request(supervisor.path, 'logs', { app, lines: -1, follow: false }, { timeoutMs: REQUEST_TIMEOUT_MS, onLine: (line) => items.push(itemOfRecordJson(line)) });
    await selectLogs([tap(fromItems(items), onRead)], query, (item) => out.item(item, args.json));
  } else {
    await selectLogs(files.map((path) => tap(readLogFiles(path, warn), onRead)), query, (item) => out.item(item, args.json));
  }
  out.flush();
  if (!follower) return EXIT.ok;
  await follower.run((item) => {
    out.item(item, args.json);
    out.flush();
  });
  return EXIT.ok;
}

/** `--flush`: the supervisor empties its files (and deletes the rotated ones); with none running, do it here. */
async function flush(app: string, args: LogsArgs): Promise<number> {
  const others = (['since', 'until', 'grep', 'worker', 'job', 'stream', 'lines', 'json', 'follow'] as const).filter((key) => args[key] !== undefined && args[key] !== false);
  if (others.length > 0) throw new UsageError(`--flush empties the app's log files and takes no other flag (got ${others.map(flagName).join(', ')}). Run nsup logs ${app} --flush alone.`);
  const supervisor = await supervisorOf(app);
  let flushed: string[];
  if (supervisor) {
    flushed = ((await request(supervisor.path, 'logs-flush', { app }, { timeoutMs: REQUEST_TIMEOUT_MS })) as { files: string[] }).files;
  } else {
    const path = logPath(runtimeDir(), app);
    if (!(await hasFiles(path))) throw new ControlError(noSupervisorNoFile(app, path));
    flushed = await emptyLogFile(path);
  }
  for (const path of flushed) process.stdout.write(`flushed ${path}\n`);
  // A foreground supervisor without logFile has only its memory, which the flush forgot.
  if (flushed.length === 0) process.stdout.write(`${app} has no log file; the supervisor forgot its recent lines\n`);
  return EXIT.ok;
}

/**
 * The followed records (`logs` with follow: true), filtered like the recent ones (not -n). Lines
 * that arrive while the recent ones are still being read wait; those that the reading already
 * read (same time, stream, worker and text) are dropped once each.
 */
class Follower {
  private readonly startedAt = Date.now();
  private readonly pending: LogItem[] = [];
  private readonly seen = new Map<string, number>();
  private readonly lastRead = new Ring<LogItem>(FOLLOW_LAST_READ);
  private emit: ((item: LogItem) => void) | null = null;
  private readonly done: Promise<unknown>;
  private readonly query: LogQuery;

  constructor(path: string, app: string, query: LogQuery) {
    this.query = query;
    this.done = request(path, 'logs', { app, lines: 0, follow: true }, { onLine: (line) => this.receive(itemOfRecordJson(line)) });
    // Until run() awaits it, a failure must not be an unhandled rejection.
    this.done.catch(() => {});
  }

  /** A line the recent part read (printed or not): the last ones may reach the follower too. */
  read(item: LogItem): void {
    this.lastRead.push(item);
  }

  /** Print what waited, then every new record until the supervisor stops (or Ctrl-C). */
  async run(emit: (item: LogItem) => void): Promise<void> {
    // Only now parse the lines read last (a file's lines are parsed only when asked for): those
    // from the moment the follow began on are the ones it may have received as well.
    for (const item of this.lastRead.items()) {
      const time = item.record?.time;
      if (time === undefined || !(time >= this.startedAt - FOLLOW_OVERLAP_MS)) continue;
      const key = keyOf(item);
      this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
    }
    for (const item of this.pending.splice(0)) this.deliver(item, emit);
    this.emit = emit;
    await this.done;
  }

  private receive(item: LogItem): void {
    if (this.emit) this.deliver(item, this.emit);
    else this.pending.push(item);
  }

  private deliver(item: LogItem, emit: (item: LogItem) => void): void {
    const key = keyOf(item);
    const count = this.seen.get(key);
    if (count !== undefined) {
      if (count <= 1) this.seen.delete(key);
      else this.seen.set(key, count - 1);
      return;
    }
    if (matches(this.query.filter, item)) emit(item);
  }
}

// Output in chunks: one write per line costs a syscall each on a big file.
class LineWriter {
  private buffer = '';

  constructor() {
    // `nsup logs web | head` closes the pipe early: stop quietly.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(EXIT.ok);
      throw error;
    });
  }

  item(item: LogItem, json: boolean | undefined): void {
    const line = formatItem(item, json === true);
    if (line === null) return;
    this.buffer += line + '\n';
    if (this.buffer.length >= 64 * 1024) this.flush();
  }

  flush(): void {
    if (this.buffer === '') return;
    process.stdout.write(this.buffer);
    this.buffer = '';
  }
}

/** The live supervisor that runs `app`, or null. */
async function supervisorOf(app: string): Promise<LiveSupervisor | null> {
  const live = await liveSupervisors();
  const statuses = await Promise.all(live.map(async (s) => ({ s, status: (await request(s.path, 'status', {}, { timeoutMs: STATUS_TIMEOUT_MS }).catch(() => null)) as SupervisorStatus | null })));
  return statuses.find(({ status }) => status?.apps.some((a) => a.name === app))?.s ?? null;
}

/** The files the supervisor writes for `app` that can hold `stream`; null when it writes none. */
async function filesOf(supervisor: LiveSupervisor, app: string, stream: LogStream | undefined): Promise<string[] | null> {
  let reply: { files: Array<{ path: string; streams: LogStream[] }> };
  try {
    reply = (await request(supervisor.path, 'logs-files', { app }, { timeoutMs: STATUS_TIMEOUT_MS })) as typeof reply;
  } catch (error) {
    // A supervisor started by an older nsup has no files to tell: read its memory.
    if (error instanceof ControlError && error.remoteCode === 'NSUP_ERR_CONTROL_UNKNOWN_COMMAND') return null;
    throw error;
  }
  const files = reply.files.filter((f) => f.path !== '/dev/null');
  if (files.length === 0) return null;
  const paths = [...new Set(files.filter((f) => stream === undefined || f.streams.includes(stream)).map((f) => f.path))];
  return paths;
}

async function hasFiles(path: string): Promise<boolean> {
  return existsSync(path) || (await rotatedSiblings(path)).length > 0;
}

function noSupervisorNoFile(app: string, path: string): string {
  return `no supervisor runs '${app}' and there is no log file at ${path}. Check the name (nsup status lists what runs), or start it as a daemon: nsup start <script> -n ${app} -d`;
}

// Calls `fn` on every item a source yields.
async function* tap(source: AsyncIterable<LogItem[]>, fn: ((item: LogItem) => void) | undefined): AsyncGenerator<LogItem[]> {
  for await (const batch of source) {
    if (fn) for (const item of batch) fn(item);
    yield batch;
  }
}

function keyOf(item: LogItem): string {
  const r = item.record;
  return r ? `${r.time}\u0000${r.stream}\u0000${r.job ?? r.worker ?? ''}\u0000${r.msg}` : item.line;
}

function flagName(key: string): string {
  return key === 'lines' ? '-n/--lines' : key === 'follow' ? '-f/--follow' : `--${key}`;
}

function warn(message: string): void {
  process.stderr.write(`nsup: ${message}\n`);
}
