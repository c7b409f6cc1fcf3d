// Process trees from /proc (Linux), for test cleanup: a supervisor's workers and whatever they
// spawned must die with it, even a worker whose event loop is blocked and never notices its IPC
// channel close. There is no event for a foreign pid's death, so waiting here polls (bounded).
import { readdirSync, readFileSync } from 'node:fs';

interface Stat {
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot: with the pid, it names one process (pids get reused). */
  start: number;
}

function stat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, ppid: Number(fields[1]), start: Number(fields[19]) };
}

/** Parent → children of every process now in /proc. */
function childrenTable(): Map<number, number[]> {
  const table = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = stat(Number(name))?.ppid;
    if (ppid === undefined) continue;
    const siblings = table.get(ppid);
    if (siblings) siblings.push(Number(name));
    else table.set(ppid, [Number(name)]);
  }
  return table;
}

function walk(roots: number[], table: Map<number, number[]>): number[] {
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    for (const child of table.get(queue.shift()!) ?? []) {
      if (seen.has(child) || roots.includes(child)) continue;
      seen.add(child);
      queue.push(child);
    }
  }
  return [...seen];
}

/** Every descendant of `pid` now in /proc (children, their children, …), walking the ppid links. */
export function descendants(pid: number): number[] {
  return walk([pid], childrenTable());
}

/** The start time of `pid` (ticks since boot), to tell it later from a new process that got the same pid. */
export function startTime(pid: number): number | undefined {
  return stat(pid)?.start;
}

/** Whether `pid` exists and has not died (a zombie waiting for its parent to reap it counts as dead). */
export function running(pid: number): boolean {
  const state = stat(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Whether `pid` was started with `name=value` in its environment (e.g. a test's private NSUP_HOME). */
export function hasEnv(pid: number, name: string, value: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${name}=${value}`);
  } catch {
    return false;
  }
}

/** Every running process started with `name=value` in its environment, wherever it was re-parented. */
export function withEnv(name: string, value: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid && hasEnv(pid, name, value) && running(pid));
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

/** SIGKILL these processes and all their descendants, wait (bounded) until dead; returns the survivors. */
export async function killTree(pids: number | number[], opts: { timeoutMs?: number } = {}): Promise<number[]> {
  const roots = (Array.isArray(pids) ? pids : [pids]).filter(running);
  if (roots.length === 0) return [];
  // Freeze first, then collect, until the tree stops growing: a stopped process cannot fork, and
  // its children keep their ppid link only while it is alive (once it dies they are re-parented).
  const frozen = new Set<number>();
  for (let round = 0; round < 20; round++) {
    const fresh = [...roots, ...walk(roots, childrenTable())].filter((pid) => !frozen.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      signal(pid, 'SIGSTOP');
      frozen.add(pid);
    }
  }
  for (const pid of frozen) signal(pid, 'SIGKILL');
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  let left = [...frozen].filter(running);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    left = left.filter(running);
  }
  return left;
}
