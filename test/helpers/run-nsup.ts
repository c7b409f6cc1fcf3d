// Runs the real `nsup` binary with execa and follows its JSON log lines, so tests wait for
// events (worker.listening, app.state …) instead of sleeping. Every wait is bounded.
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/nsup.js', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One JSON log line of the supervisor. */
export type LogLine = Record<string, unknown> & { event?: string; msg?: string };

/** A running `nsup` process and what it printed so far. */
export interface Nsup {
  proc: ResultPromise;
  /** Parsed JSON lines from stdout, in order. */
  events: LogLine[];
  /** Non-JSON stdout lines (worker output). */
  stdout: string[];
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

const running = new Set<Nsup>();

/** Start `nsup <args>`; the process is killed by cleanupAll() if a test leaves it running. */
export function startNsup(args: string[], opts: { cwd?: string; env?: Record<string, string>; detached?: boolean; wrap?: string[] } = {}): Nsup {
  // `wrap` runs nsup under another command (e.g. unshare, to make it PID 1 of a namespace).
  const [command, ...prefix] = opts.wrap ?? [process.execPath];
  const proc = execa(command!, [...prefix, ...(opts.wrap ? [process.execPath] : []), BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    // Each supervisor gets its own runtime dir unless the test shares one on purpose: parallel
    // tests must not see each other's apps (nsup refuses a name that is already running).
    env: { NO_COLOR: '1', NSUP_HOME: mkdtempSync(join(tmpdir(), 'nsup-home-')), ...opts.env },
    reject: false,
    buffer: false,
    stdin: 'ignore',
    detached: opts.detached ?? false,
  });
  const events: LogLine[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    stdout.push(line);
    if (line.startsWith('{')) {
      try {
        events.push(JSON.parse(line) as LogLine);
      } catch {
        // a worker's own JSON-ish line: kept in stdout only
      }
    }
    notify();
  });
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    stderr.push(line);
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
  running.add(nsup);
  void exited.then(() => running.delete(nsup));
  return nsup;
}

/** Stop with SIGTERM and wait (bounded); returns the exit code. */
export async function stopNsup(nsup: Nsup, timeoutMs = 15_000): Promise<number | undefined> {
  nsup.proc.kill('SIGTERM');
  const result = await Promise.race([nsup.exited, sleep(timeoutMs).then(() => null)]);
  if (!result) {
    nsup.proc.kill('SIGKILL');
    throw new Error('nsup did not exit within the bound after SIGTERM');
  }
  return result.code;
}

/** Kill whatever a test left running (the supervisor, then any worker it forked). */
export async function cleanupAll(): Promise<void> {
  for (const nsup of [...running]) {
    nsup.proc.kill('SIGKILL');
    await Promise.race([nsup.exited, sleep(5000)]);
  }
  running.clear();
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
