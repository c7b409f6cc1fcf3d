// The process table for the tree reaper where /proc does not exist (macOS, the BSDs): pids,
// parents, states and start times from `ps`. It has no environments (macOS shows another
// process's env to root only, and mixed into its command line), so a leftover is found by the
// parent links recorded while its worker lived, not by the worker's token.
import type { ProcSource, ProcStat } from './descendants.ts';
import { parsePs, runPsSync, type PsRunnerSync } from '../ps.ts';

// One `ps -A` serves every worker's snapshot of the same round.
const FRESH_MS = 100;

/** How the ps table is read; tests give a fake `ps` and `kill`. */
export interface PsSourceOptions {
  ps?: PsRunnerSync;
  /** Whether a pid exists (kill(pid, 0)); between two tables, this is what tells a process left. */
  exists?: (pid: number) => boolean;
}

/** A ProcSource backed by `ps -A -o pid=,ppid=,stat=,lstart=`; unavailable when ps does not run. */
export function psSource(opts: PsSourceOptions = {}): ProcSource {
  const run = opts.ps ?? runPsSync;
  const exists = opts.exists ?? pidExists;
  let table = new Map<number, ProcStat>();
  let readAt = Number.NEGATIVE_INFINITY;
  const refresh = (): boolean => {
    const text = run(['-A', '-o', 'pid=,ppid=,stat=,lstart=']);
    if (text === null) return false;
    table = parseTable(text);
    readAt = performance.now();
    return true;
  };
  const available = refresh();
  return {
    available,
    pids: () => {
      if (performance.now() - readAt >= FRESH_MS) refresh();
      return [...table.keys()];
    },
    // Alive now (kill 0), with the parent and start time of the last table: a process started
    // since is unknown until the next one.
    stat: (pid) => (exists(pid) ? (table.get(pid) ?? null) : null),
    environ: () => null,
    children: () => null,
  };
}

/** The rows of `ps -o pid=,ppid=,stat=,lstart=` by pid (lstart as epoch seconds: it tells a reused pid apart). */
export function parseTable(text: string): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const [pid, ppid, stat, lstart] of parsePs(text, 4)) {
    const start = Date.parse(lstart!);
    if (!/^\d+$/.test(pid!) || !/^\d+$/.test(ppid!)) continue;
    // BSD and procps state letters agree on the first one (Z: zombie); the rest are flags.
    table.set(Number(pid), { state: stat!.charAt(0), ppid: Number(ppid), start: Number.isFinite(start) ? start / 1000 : 0 });
  }
  return table;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
