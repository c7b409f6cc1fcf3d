// Issue 14 (scale): after a worker exits, the reaper (src/worker/descendants.ts) looks for the
// processes carrying its token. The live workers it tracks carry their own tokens, so reading their
// environments is wasted work, and it made a reload or stop of N workers read N × N environments.
import { describe, expect, it } from 'vitest';
import { TreeReaper, type ProcSource, type ProcStat } from '../../src/worker/descendants.ts';

/** A process table in memory that counts the environments read, per pid. */
class CountingProcs implements ProcSource {
  readonly available = true;
  readonly procs = new Map<number, ProcStat & { env: string }>();
  readonly environReads = new Map<number, number>();
  readonly signals: Array<[number, string]> = [];
  add(pid: number, env: Record<string, string>): void {
    this.procs.set(pid, { state: 'S', ppid: 1, start: pid * 10, env: Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join('') });
  }
  pids(): number[] {
    return [...this.procs.keys()];
  }
  stat(pid: number): ProcStat | null {
    const proc = this.procs.get(pid);
    return proc ? { state: proc.state, ppid: proc.ppid, start: proc.start } : null;
  }
  environ(pid: number): string | null {
    this.environReads.set(pid, (this.environReads.get(pid) ?? 0) + 1);
    return this.procs.get(pid)?.env ?? null;
  }
  children(): number[] | null {
    return null;
  }
  kill = (pid: number, signal: NodeJS.Signals): boolean => {
    const proc = this.procs.get(pid);
    if (!proc) return false;
    this.signals.push([pid, signal]);
    proc.state = 'Z';
    return true;
  };
}

describe('TreeReaper scan after an exit (issue 14)', () => {
  it("reads no live worker's environment, and still finds the exited worker's leftover", async () => {
    const procs = new CountingProcs();
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 1, snapshotMs: 60_000 });
    // 8 live workers of this primary (old and new generation of a reload), each with its token.
    const workers = Array.from({ length: 8 }, (_, i) => ({ pid: 100 + i, token: reaper.token() }));
    for (const w of workers) {
      procs.add(w.pid, { NSUP_WORKER_TOKEN: w.token });
      reaper.track(w.pid);
    }
    // Other processes of the machine, and one process the first worker spawned.
    for (let pid = 200; pid < 205; pid++) procs.add(pid, { HOME: '/root' });
    procs.add(300, { NSUP_WORKER_TOKEN: workers[0]!.token });

    // The first half exits, one after another (as the old generation does at the end of a reload).
    for (const w of workers.slice(0, 4)) {
      procs.procs.delete(w.pid);
      await reaper.reap(w.pid, w.token, 1000);
    }
    expect(procs.signals).toEqual([[300, 'SIGTERM']]);
    const liveReads = workers.slice(4).map((w) => procs.environReads.get(w.pid) ?? 0);
    expect(liveReads).toEqual([0, 0, 0, 0]);
    // Each exit read the other processes once, and the exit with a leftover once more (the rescan
    // for processes the leftover forked meanwhile): 5 reads of each.
    expect(procs.environReads.get(200)).toBe(5);

    for (const w of workers.slice(4)) {
      procs.procs.delete(w.pid);
      await reaper.reap(w.pid, w.token, 1000);
    }
  });
});
