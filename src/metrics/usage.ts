// Per-process CPU and memory of worker pids, read from Linux /proc. Cheap: two small reads per pid per sample.
// Without /proc (macOS, the BSDs) from one `ps -o pid=,rss=,time=` per sample instead, run in the
// background: its figures are those of the sample before (one interval late), never a blocked loop.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCpuTime, parsePs, runPs, type PsRunner } from '../ps.ts';

/** The latest usage of one pid; null when unknown (no sample yet, process gone, neither /proc nor ps). */
export interface ProcessUsage {
  rssBytes: number | null;
  /** Of one core, over the interval between the last two samples: 150 = one and a half cores. */
  cpuPercent: number | null;
}

/** Where to read process files; tests point `procRoot` at a fixture tree (or a missing one) and fake `ps`. */
export interface UsageSamplerOptions {
  /** Default '/proc'; when it does not exist, `ps` is used. */
  procRoot?: string;
  ps?: PsRunner;
}

// utime/stime are in clock ticks. USER_HZ is 100 on every mainstream Linux build; reading
// `getconf CLK_TCK` would cost a child process for a value that does not change.
const TICKS_PER_SECOND = 100;

const UNKNOWN: ProcessUsage = Object.freeze({ rssBytes: null, cpuPercent: null });

/** Samples CPU time and RSS of a set of pids; call `sample()` periodically, read with `get()`. */
export class UsageSampler {
  readonly #procRoot: string;
  readonly #entries = new Map<number, Entry>();
  /** Without /proc: the ps runner, null once it could not run (then every figure stays unknown). */
  #ps: PsRunner | null | undefined;
  #running: Promise<void> | null = null;

  constructor(opts: UsageSamplerOptions = {}) {
    this.#procRoot = opts.procRoot ?? '/proc';
    this.#ps = existsSync(this.#procRoot) ? undefined : (opts.ps ?? runPs);
  }

  /**
   * Read every pid once and forget pids not listed. From /proc synchronously (its reads are
   * in-memory): done on return. From ps in the background: the promise says when (a sample asked
   * while one runs is skipped). Never rejects.
   */
  sample(pids: number[], now: number = performance.now()): Promise<void> {
    const wanted = new Set(pids);
    for (const pid of this.#entries.keys()) if (!wanted.has(pid)) this.#entries.delete(pid);
    if (this.#ps === undefined) {
      this.#sampleProc(wanted, now);
      return Promise.resolve();
    }
    this.#running ??= this.#samplePs(wanted, now).finally(() => (this.#running = null));
    return this.#running;
  }

  /** The usage from the latest sample; nulls for a pid that was not sampled or is gone. */
  get(pid: number): ProcessUsage {
    return this.#entries.get(pid)?.usage ?? UNKNOWN;
  }

  #sampleProc(wanted: Set<number>, now: number): void {
    for (const pid of wanted) {
      const cpu = readCpu(this.#procRoot, pid);
      if (cpu === null) {
        // Gone (or not Linux): nothing to compare the next sample with.
        this.#entries.delete(pid);
        continue;
      }
      const prev = this.#entries.get(pid);
      // A different start time means the pid was reused by another process: start over.
      const comparable = prev !== undefined && prev.startTicks === cpu.startTicks && now > prev.at && cpu.ticks >= prev.ticks;
      const cpuPercent = comparable ? ((cpu.ticks - prev.ticks) / TICKS_PER_SECOND / ((now - prev.at) / 1000)) * 100 : null;
      this.#entries.set(pid, {
        at: now,
        ticks: cpu.ticks,
        startTicks: cpu.startTicks,
        usage: { rssBytes: readRss(this.#procRoot, pid), cpuPercent },
      });
    }
  }

  async #samplePs(wanted: Set<number>, now: number): Promise<void> {
    if (!this.#ps || wanted.size === 0) return;
    const text = await this.#ps(['-o', 'pid=,rss=,time=', '-p', [...wanted].join(',')]).catch(() => null);
    if (text === null) {
      // No ps either: say nothing rather than something wrong, and stop trying.
      this.#ps = null;
      this.#entries.clear();
      return;
    }
    const rows = new Map(parsePs(text, 3).map(([pid, rss, time]) => [Number(pid), { rssKb: Number(rss), seconds: parseCpuTime(time!) }]));
    for (const pid of wanted) {
      const row = rows.get(pid);
      // Gone meanwhile, or listed since (and sampled next time).
      if (row === undefined || !Number.isFinite(row.seconds)) {
        this.#entries.delete(pid);
        continue;
      }
      const ticks = row.seconds * TICKS_PER_SECOND;
      const prev = this.#entries.get(pid);
      // ps has no start time in a portable column: CPU time going backwards means a reused pid.
      const comparable = prev !== undefined && now > prev.at && ticks >= prev.ticks;
      const cpuPercent = comparable ? ((ticks - prev.ticks) / TICKS_PER_SECOND / ((now - prev.at) / 1000)) * 100 : null;
      const rssBytes = Number.isFinite(row.rssKb) ? row.rssKb * 1024 : null;
      this.#entries.set(pid, { at: now, ticks, startTicks: 0, usage: { rssBytes, cpuPercent } });
    }
  }
}

interface Entry {
  /** When it was sampled, in the caller's clock (ms). */
  at: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
  /** Process start time since boot, in clock ticks: tells a reused pid apart. */
  startTicks: number;
  usage: ProcessUsage;
}

// /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses, so fields
// are counted from the last ')'. Field 3 (state) is index 0 after it: utime 14, stime 15, starttime 22.
function readCpu(procRoot: string, pid: number): { ticks: number; startTicks: number } | null {
  const text = readOrNull(join(procRoot, String(pid), 'stat'));
  if (text === null) return null;
  const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  const start = Number(fields[22 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { ticks: utime + stime, startTicks: Number.isFinite(start) ? start : 0 };
}

// VmRSS in /proc/<pid>/status is in kB and, unlike statm, needs no page size guess.
function readRss(procRoot: string, pid: number): number | null {
  const text = readOrNull(join(procRoot, String(pid), 'status'));
  const match = text === null ? null : /^VmRSS:\s*(\d+)\s*kB/m.exec(text);
  return match === null ? null : Number(match[1]) * 1024;
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
