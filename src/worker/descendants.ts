// What a worker leaves behind: the processes it spawned (a `sleep`, a shell and its children) are
// re-parented when it exits and would outlive every stop, reload and crash. The primary marks each
// worker's environment with a token that every descendant inherits; after the worker's exit it
// finds them by that token (and by the ppid links it saw while the worker lived), sends SIGTERM,
// and SIGKILL to survivors after the app's killTimeout. The token needs Linux /proc; without it
// (macOS) the table comes from `ps` and only the ppid links are followed (see ps-source.ts).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { psSource, type PsSourceOptions } from './ps-source.ts';

/** The environment variable that marks a worker's process tree. */
export const TOKEN_VAR = 'NSUP_WORKER_TOKEN';

// How often a leftover process is checked for; there is no event for a foreign pid's death.
const POLL_MS = 50;
// How long a SIGKILLed leftover gets to disappear before the primary stops waiting for it.
const KILL_GRACE_MS = 1000;
// How often the ppid links of the live workers are recorded (for children that scrubbed their env).
const SNAPSHOT_MS = 5000;

/** The fields of /proc/<pid>/stat that tell a process apart and place it in the tree. */
export interface ProcStat {
  /** R, S, D, Z (zombie), X (dead), … */
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot: with the pid, it names one process (pids are reused). */
  start: number;
}

/** Parse /proc/<pid>/stat ("pid (comm) state ppid …"; comm may hold spaces and ')'); null if malformed. */
export function parseStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // After the comm: state is field 3 (index 0), ppid field 4, starttime field 22 (index 19).
  const ppid = Number(fields[1]);
  const start = Number(fields[19]);
  if (!fields[0] || !Number.isInteger(ppid) || !Number.isFinite(start)) return null;
  return { state: fields[0], ppid, start };
}

/** Whether a /proc/<pid>/environ text (NUL-separated) holds exactly `name=value`. */
export function environHas(environ: string, name: string, value: string): boolean {
  const entry = `${name}=${value}`;
  return environ.split('\0').includes(entry);
}

/** Parse /proc/<pid>/task/<tid>/children: space-separated pids. */
export function parseChildren(text: string): number[] {
  return text.split(/\s+/).filter((word) => /^\d+$/.test(word)).map(Number);
}

/** Every descendant of `root` in a pid → ppid table (children, their children, …), root excluded. */
export function descendantsIn(root: number, ppids: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of ppids) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const seen = new Set<number>();
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (child === root || seen.has(child)) continue;
      seen.add(child);
      queue.push(child);
    }
  }
  return [...seen];
}

/** Reads of the process table; tests give a fake one. */
export interface ProcSource {
  /** Whether the table can be read at all (Linux with /proc). */
  readonly available: boolean;
  pids(): number[];
  stat(pid: number): ProcStat | null;
  /** The environment the process started with; null when unreadable (EACCES, ESRCH). */
  environ(pid: number): string | null;
  /** Direct children (every thread's); null when the kernel has no children files. */
  children(pid: number): number[] | null;
}

/** The process table of /proc (or of a fixture tree at `root`). */
export function procSource(root = '/proc'): ProcSource {
  const read = (...parts: string[]) => {
    try {
      return readFileSync(join(root, ...parts), 'latin1');
    } catch {
      return null;
    }
  };
  const list = (...parts: string[]) => {
    try {
      return readdirSync(join(root, ...parts));
    } catch {
      return null;
    }
  };
  const available = (root !== '/proc' || process.platform === 'linux') && list() !== null;
  // CONFIG_PROC_CHILDREN is not built into every kernel: without it every snapshot walks the table.
  const hasChildren = read('self', 'task', String(process.pid), 'children') !== null;
  return {
    available,
    pids: () => (list() ?? []).filter((name) => /^\d+$/.test(name)).map(Number),
    stat: (pid) => {
      const text = read(String(pid), 'stat');
      return text === null ? null : parseStat(text);
    },
    environ: (pid) => read(String(pid), 'environ'),
    children: (pid) => {
      if (!hasChildren) return null;
      return (list(String(pid), 'task') ?? []).flatMap((tid) => parseChildren(read(String(pid), 'task', tid, 'children') ?? ''));
    },
  };
}

/** /proc where it can be read (Linux), else `ps`; tests point `procRoot` at a missing tree. */
export function processSource(opts: { procRoot?: string } & PsSourceOptions = {}): ProcSource {
  const proc = procSource(opts.procRoot);
  return proc.available ? proc : psSource(opts);
}

/** A process as found: pid and start time (so a reused pid is never signalled). */
type Found = Map<number, number>;

/** Told before each round of signals to a worker's leftovers (the spawner logs it). */
export type LeftoverNotice = (signal: 'SIGTERM' | 'SIGKILL', pids: number[]) => void;

/** How the reaper reaches the system; every part has a real default. */
export interface TreeReaperOptions {
  source?: ProcSource;
  /** Send a signal; false when the process cannot be signalled (gone, or not ours: EPERM). */
  kill?: (pid: number, signal: NodeJS.Signals) => boolean;
  /** The primary's own pid: never a leftover. */
  self?: number;
  snapshotMs?: number;
}

/** Tracks the live workers' trees and cleans up after every worker that exits. */
export class TreeReaper {
  private readonly source: ProcSource;
  private readonly kill: (pid: number, signal: NodeJS.Signals) => boolean;
  private readonly self: number;
  private readonly snapshotMs: number;
  private readonly prefix: string;
  private counter = 0;
  /** Live worker pid → the descendants it had at the last snapshot. */
  private readonly seen = new Map<number, Found>();
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(options: TreeReaperOptions = {}) {
    this.source = options.source ?? processSource();
    this.kill = options.kill ?? signalPid;
    this.self = options.self ?? process.pid;
    this.snapshotMs = options.snapshotMs ?? SNAPSHOT_MS;
    this.prefix = String(this.self);
  }

  /** A new token for a worker about to be forked (its env gets TOKEN_VAR=token). */
  token(): string {
    return `${this.prefix}.${++this.counter}`;
  }

  /** The worker runs: record its tree from time to time, for descendants that scrub their env. */
  track(workerPid: number): void {
    if (!this.source.available) return;
    this.seen.set(workerPid, new Map());
    this.timer ??= setInterval(() => {
      for (const pid of this.seen.keys()) this.snapshot(pid);
    }, this.snapshotMs).unref();
  }

  /** Record the worker's descendants by ppid now (when its drain is asked: it may spawn no more). */
  snapshot(workerPid: number): void {
    if (!this.source.available || !this.seen.has(workerPid)) return;
    const found: Found = new Map();
    for (const pid of this.treeOf(workerPid)) {
      const stat = this.source.stat(pid);
      if (stat && pid !== this.self) found.set(pid, stat.start);
    }
    this.seen.set(workerPid, found);
  }

  /** The worker exited: SIGTERM what it left, SIGKILL survivors after `killTimeoutMs`; resolves once they are gone. */
  reap(workerPid: number, token: string, killTimeoutMs: number, notice: LeftoverNotice = () => {}): Promise<void> {
    const known = this.seen.get(workerPid) ?? new Map<number, number>();
    this.seen.delete(workerPid);
    if (this.seen.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
    if (!this.source.available) return Promise.resolve();
    const done = this.clean(token, known, killTimeoutMs, notice).catch(() => {});
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return done;
  }

  /** Resolves once the leftovers of every worker that exited so far are gone (or given up on). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async clean(token: string, known: Found, killTimeoutMs: number, notice: LeftoverNotice): Promise<void> {
    const left = this.leftovers(token, known);
    // Ones we may not signal (they changed user) cannot be waited for either.
    const denied = new Set<number>();
    const deadline = Date.now() + killTimeoutMs;
    // SIGTERM every leftover; ones that appear meanwhile (forked by a leftover) get it too.
    while (left.size > 0 && Date.now() < deadline) {
      this.signal('SIGTERM', left, notice, denied);
      await this.whileAlive(left, deadline);
      for (const [pid, start] of this.leftovers(token, new Map())) if (!denied.has(pid)) left.set(pid, start);
    }
    if (left.size === 0) return;
    this.signal('SIGKILL', left, notice, denied);
    await this.whileAlive(left, Date.now() + KILL_GRACE_MS);
  }

  /** The live processes that carry the token, and the recorded descendants still alive (same start time). */
  private leftovers(token: string, known: Found): Found {
    const found: Found = new Map();
    for (const [pid, start] of known) if (this.alive(pid, start)) found.set(pid, start);
    for (const pid of this.source.pids()) {
      // A live worker carries its own token, never another's: skipping them keeps a reload or stop
      // of N workers at N scans of the other processes, not N scans of N workers too (issue 14).
      if (pid === this.self || found.has(pid) || this.seen.has(pid)) continue;
      const environ = this.source.environ(pid);
      if (environ === null || !environHas(environ, TOKEN_VAR, token)) continue;
      const stat = this.source.stat(pid);
      if (stat && !dead(stat)) found.set(pid, stat.start);
    }
    return found;
  }

  private signal(signal: 'SIGTERM' | 'SIGKILL', left: Found, notice: LeftoverNotice, denied: Set<number>): void {
    const pids = [...left.keys()].filter((pid) => this.alive(pid, left.get(pid)!));
    if (pids.length === 0) return;
    notice(signal, pids);
    for (const pid of pids) {
      if (this.kill(pid, signal)) continue;
      left.delete(pid);
      denied.add(pid);
    }
  }

  /** Wait until every process of `left` is gone (removing them as they go), or until `deadline`. */
  private async whileAlive(left: Found, deadline: number): Promise<void> {
    for (;;) {
      for (const [pid, start] of left) if (!this.alive(pid, start)) left.delete(pid);
      if (left.size === 0 || Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
    }
  }

  private alive(pid: number, start: number): boolean {
    const stat = this.source.stat(pid);
    return stat !== null && stat.start === start && !dead(stat);
  }

  /** The worker's descendants now: from the children files, or a walk of the whole table. */
  private treeOf(root: number): number[] {
    if (this.source.children(root) !== null) {
      const seen = new Set<number>();
      const queue = [root];
      while (queue.length > 0) {
        for (const child of this.source.children(queue.shift()!) ?? []) {
          if (child === root || seen.has(child)) continue;
          seen.add(child);
          queue.push(child);
        }
      }
      return [...seen];
    }
    const ppids = new Map<number, number>();
    for (const pid of this.source.pids()) {
      const stat = this.source.stat(pid);
      if (stat) ppids.set(pid, stat.ppid);
    }
    return descendantsIn(root, ppids);
  }
}

// A zombie has exited; only its parent's wait() is left (init's, for a re-parented leftover).
function dead(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X';
}

function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
