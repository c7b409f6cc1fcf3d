// The process table from `ps`, for platforms without Linux /proc (macOS, the BSDs): the same
// POSIX columns on every one of them, so the readers that prefer /proc have one fallback.
import { execFile, spawnSync } from 'node:child_process';

/** One `ps` row: the columns asked for, as text, in order. */
export type PsRow = string[];

/** Runs `ps` with the given arguments; resolves to its stdout, or null when ps cannot run. */
export type PsRunner = (args: string[]) => Promise<string | null>;

/** Same, synchronously (the process-tree reaper's table is read in one turn). */
export type PsRunnerSync = (args: string[]) => string | null;

// A row per process is about 60 bytes: 4 MB is tens of thousands of processes.
const MAX_BUFFER = 4 * 1024 * 1024;
const TIMEOUT_MS = 5000;

/** `ps` itself, asynchronously. Exit 1 with no rows means "no such pid", not a failure. */
export const runPs: PsRunner = (args) =>
  new Promise((resolve) => {
    execFile('ps', args, { encoding: 'utf8', maxBuffer: MAX_BUFFER, timeout: TIMEOUT_MS }, (error, stdout) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') resolve(null);
      else if (error && typeof error.code !== 'number') resolve(null);
      else resolve(stdout);
    });
  });

/** `ps` itself, synchronously; null when ps cannot run (not installed, killed by the timeout). */
export const runPsSync: PsRunnerSync = (args) => {
  const result = spawnSync('ps', args, { encoding: 'utf8', maxBuffer: MAX_BUFFER, timeout: TIMEOUT_MS });
  if (result.error || result.status === null) return null;
  return result.stdout;
};

/**
 * Rows of `ps -o a=,b=,…` output (no header): each line split on blanks into `columns` fields,
 * the last one taking the rest of the line (so it may hold spaces, like lstart).
 */
export function parsePs(text: string, columns: number): PsRow[] {
  const rows: PsRow[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < columns || fields[0] === '') continue;
    rows.push([...fields.slice(0, columns - 1), fields.slice(columns - 1).join(' ')]);
  }
  return rows;
}

/**
 * A `ps` cputime ("[[dd-]hh:]mm:ss[.cc]": macOS prints "0:01.23", procps "00:00:01") in
 * seconds; NaN if it does not parse.
 */
export function parseCpuTime(text: string): number {
  const match = /^(?:(\d+)-)?([\d:.]+)$/.exec(text.trim());
  if (!match) return Number.NaN;
  const parts = match[2]!.split(':').map(Number);
  if (parts.length > 3 || parts.some((n) => !Number.isFinite(n))) return Number.NaN;
  const seconds = parts.reduce((total, n) => total * 60 + n, 0);
  return Number(match[1] ?? 0) * 86_400 + seconds;
}
