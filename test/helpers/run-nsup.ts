// Runs the real `nsup` binary with execa and follows its JSON log lines, so tests wait for
// events (worker.listening, app.state …) instead of sleeping. Every wait is bounded.
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { killTree, startTime, withEnv } from './processes.ts';

export const BIN = fileURLToPath(new URL('../../bin/nsup.js', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One JSON log line of the supervisor (an event), or a worker's line as a record (`stream` out/err). */
export type LogLine = Record<string, unknown> & { event?: string; msg?: string };

/** A running `nsup` process and what it printed so far. */
export interface Nsup {
  proc: ResultPromise;
  /** The supervisor's events (parsed JSON lines from stdout), in order. */
  events: LogLine[];
  /** Worker lines as records (time, app, worker, pid, gen, stream, msg), stdout and stderr, in order of arrival. */
  records: LogLine[];
  /** stdout lines: event lines as written, worker lines as the worker wrote them (a record's msg). */
  stdout: string[];
  /** stderr lines, worker lines as the worker wrote them. */
  stderr: string[];
  /** Resolves with the first log line (already seen or future) that matches. */
  waitFor(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Resolves once `count` lines have matched in total. */
  waitForCount(match: (line: LogLine) => boolean, count: number, what: string, timeoutMs?: number): Promise<LogLine[]>;
  /** Resolves with the first raw output line (stdout or stderr, worker lines included) that matches. */
  waitForOutput(match: (line: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  /** Every worker pid the supervisor ever forked. */
  workerPids(): number[];
  /** Pids of workers currently in `listening` (or `ready`), per the log. */
  listeningPids(): number[];
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<{ code: number | undefined; signal: string | undefined }>;
}

/** Every nsup started since the last cleanupAll(): whether its primary was reaped, and the start time of each worker pid it logged. */
const started = new Map<Nsup, { home: string; ownHome: boolean; reaped: boolean; workers: Map<number, number | undefined> }>();

/** Start `nsup <args>`; the process is killed by cleanupAll() if a test leaves it running. */
export function startNsup(args: string[], opts: { cwd?: string; env?: Record<string, string>; detached?: boolean; wrap?: string[]; rawLogFormat?: boolean } = {}): Nsup {
  // The helper reads the supervisor's events as JSON lines: `start` gets --log-format json unless
  // the test sets the format itself (or asks for the default with rawLogFormat).
  if (args[0] === 'start' && !opts.rawLogFormat && !args.some((a) => a.startsWith('--log-format'))) args = ['start', '--log-format', 'json', ...args.slice(1)];
  // `wrap` runs nsup under another command (e.g. unshare, to make it PID 1 of a namespace).
  const [command, ...prefix] = opts.wrap ?? [process.execPath];
  // Each supervisor gets its own runtime dir unless the test shares one on purpose: parallel
  // tests must not see each other's apps (nsup refuses a name that is already running).
  const env = { NO_COLOR: '1', ...opts.env, NSUP_HOME: opts.env?.NSUP_HOME ?? mkdtempSync(join(tmpdir(), 'nsup-home-')) };
  const proc = execa(command!, [...prefix, ...(opts.wrap ? [process.execPath] : []), BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env,
    reject: false,
    buffer: false,
    stdin: 'ignore',
    detached: opts.detached ?? false,
    // execa would SIGKILL the primary 5 s after a kill('SIGTERM'): a stop that rightly takes the
    // whole killTimeout would lose its primary and orphan the workers. stopNsup has its own bound.
    forceKillAfterDelay: false,
  });
  const events: LogLine[] = [];
  const records: LogLine[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };
  // Worker pid → its start time when the log named it, so that cleanup never kills a later
  // process that reused the pid. Under `wrap` the logged pids belong to another pid namespace.
  const workers = new Map<number, number | undefined>();
  // A worker's line in json format is a record; the arrays get the line as the worker wrote it.
  const workerLine = (line: string): string | undefined => {
    if (!line.startsWith('{')) return undefined;
    try {
      const record = JSON.parse(line) as LogLine;
      if (record.stream !== 'out' && record.stream !== 'err') return undefined;
      records.push(record);
      const { time: _t, app: _a, worker: _w, pid: _p, gen: _g, stream: _s, ...rest } = record;
      return typeof rest.msg === 'string' && Object.keys(rest).length === 1 ? rest.msg : JSON.stringify(rest);
    } catch {
      return undefined;
    }
  };
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const own = workerLine(line);
    stdout.push(own ?? line);
    if (own === undefined && line.startsWith('{')) {
      try {
        const event = JSON.parse(line) as LogLine;
        events.push(event);
        if (!opts.wrap && event.event === 'worker.state' && event.to === 'starting' && typeof event.pid === 'number' && !workers.has(event.pid)) {
          workers.set(event.pid, startTime(event.pid));
        }
      } catch {
        // a worker's own JSON-ish line: kept in stdout only
      }
    }
    notify();
  });
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    stderr.push(workerLine(line) ?? line);
    notify();
  });
  const exited = proc.then((result) => ({ code: result.exitCode, signal: result.signal })).finally(notify);

  const until = <T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const attempt = () => {
        const found = check();
        if (found !== undefined) {
          finish();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}\n--- last log lines:\n${stdout.slice(-15).join('\n')}\n--- stderr:\n${stderr.slice(-10).join('\n')}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(attempt);
      };
      waiters.add(attempt);
      attempt();
    });

  const nsup: Nsup = {
    proc,
    events,
    records,
    stdout,
    stderr,
    exited,
    waitFor: (match, what, timeoutMs = 15_000) => until(() => events.find(match), what, timeoutMs),
    waitForCount: (match, count, what, timeoutMs = 15_000) =>
      until(() => {
        const found = events.filter(match);
        return found.length >= count ? found : undefined;
      }, what, timeoutMs),
    waitForOutput: (match, what, timeoutMs = 15_000) => until(() => [...stdout, ...stderr].find(match), what, timeoutMs),
    workerPids: () => [...new Set(events.filter((e) => e.event === 'worker.state' && e.to === 'starting').map((e) => e.pid as number))],
    listeningPids: () => {
      const state = new Map<number, string>();
      for (const e of events) if (e.event === 'worker.state' && typeof e.pid === 'number') state.set(e.pid, e.to as string);
      return [...state].filter(([, s]) => s === 'listening' || s === 'ready').map(([pid]) => pid);
    },
  };
  const entry = { home: env.NSUP_HOME, ownHome: opts.env?.NSUP_HOME === undefined, reaped: false, workers };
  // 'exit' comes at the reap, before `exited` (which also waits for the output streams to end).
  proc.nodeChildProcess.once('exit', () => (entry.reaped = true));
  started.set(nsup, entry);
  return nsup;
}

/** Stop with SIGTERM and wait (bounded); returns the exit code. */
export async function stopNsup(nsup: Nsup, timeoutMs = 15_000): Promise<number | undefined> {
  nsup.proc.kill('SIGTERM');
  const result = await Promise.race([nsup.exited, sleep(timeoutMs).then(() => null)]);
  if (!result) {
    const left = await killNsup(nsup);
    throw new Error(`nsup did not exit within the bound after SIGTERM${left.length > 0 ? `; still alive after SIGKILL: ${left.join(', ')}` : ''}`);
  }
  return result.code;
}

/**
 * SIGKILL the supervisor and every process under it: its workers, their own children, and those
 * no longer below it (re-parented once their parent died): the workers the log named, and any
 * process that inherited the supervisor's NSUP_HOME. Collected before anything is killed; waits
 * (bounded) until they are dead. Returns the survivors.
 */
async function killNsup(nsup: Nsup): Promise<number[]> {
  const entry = started.get(nsup);
  // Once the primary was reaped its pid may belong to someone else: only an unreaped one is a root.
  const primary = nsup.proc.pid !== undefined && entry?.reaped === false ? [nsup.proc.pid] : [];
  const workers = [...(entry?.workers ?? [])].filter(([pid, start]) => start !== undefined && startTime(pid) === start).map(([pid]) => pid);
  // Unless the test process itself runs with that NSUP_HOME: then the mark is not this nsup's own.
  const orphans = entry && entry.home !== process.env.NSUP_HOME ? withEnv('NSUP_HOME', entry.home) : [];
  const left = await killTree([...primary, ...workers, ...orphans]);
  await Promise.race([nsup.exited, sleep(5000)]);
  // The private runtime dir made for this nsup goes with it (a test's own NSUP_HOME is the test's).
  if (entry?.ownHome) rmSync(entry.home, { recursive: true, force: true });
  return left;
}

/** Kill whatever the tests left running: every supervisor started, its workers, and their children. */
export async function cleanupAll(): Promise<void> {
  const left: number[] = [];
  for (const nsup of [...started.keys()]) left.push(...(await killNsup(nsup)));
  started.clear();
  if (left.length > 0) throw new Error(`cleanup: still alive after SIGKILL: ${left.join(', ')}`);
}

/** Whether a process with this pid still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Wait until none of these pids exists (bounded); returns the ones still alive. */
export async function waitGone(pids: number[], timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(25);
    alive = alive.filter(isAlive);
  }
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone in between
    }
  }
  return alive;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
