// Finding and stopping what an exited worker left behind (src/worker/descendants.ts): the /proc
// parsing, and the reaper against a fake process table (signals, killTimeout, pid reuse).
import { describe, expect, it } from 'vitest';
import { TreeReaper, descendantsIn, environHas, parseChildren, parseStat, type ProcSource, type ProcStat } from '../../src/worker/descendants.ts';

describe('/proc parsing', () => {
  it('parseStat reads state, ppid and start time after the last parenthesis of comm', () => {
    // comm may contain spaces and parentheses; fields after it: state ppid pgrp … starttime (22nd field).
    const rest = Array.from({ length: 17 }, (_, i) => String(i + 100));
    const text = `4242 (my (odd) proc) S 17 ${rest.join(' ')} 987654 0 0\n`;
    expect(parseStat(text)).toEqual({ state: 'S', ppid: 17, start: 987654 });
    expect(parseStat('garbage')).toBeNull();
  });

  it('parseStat reads a real /proc/self/stat', async () => {
    const { readFileSync } = await import('node:fs');
    const stat = parseStat(readFileSync('/proc/self/stat', 'utf8'));
    expect(stat?.ppid).toBe(process.ppid);
    expect(stat?.start).toBeGreaterThan(0);
  });

  it('environHas matches a whole NAME=value entry, never a prefix', () => {
    const environ = 'PATH=/bin\0NSUP_WORKER_TOKEN=12.3\0HOME=/root\0';
    expect(environHas(environ, 'NSUP_WORKER_TOKEN', '12.3')).toBe(true);
    expect(environHas(environ, 'NSUP_WORKER_TOKEN', '12.30')).toBe(false);
    expect(environHas(environ, 'NSUP_WORKER_TOKEN', '12')).toBe(false);
    expect(environHas('X_NSUP_WORKER_TOKEN=12.3\0', 'NSUP_WORKER_TOKEN', '12.3')).toBe(false);
  });

  it('parseChildren reads space-separated pids', () => {
    expect(parseChildren('12 13 200 \n')).toEqual([12, 13, 200]);
    expect(parseChildren('')).toEqual([]);
  });

  it('descendantsIn walks children of children, not siblings or the parent', () => {
    // 1 → 10 (worker) → 11 → 12; 10 → 13; 1 → 20 (another worker) → 21
    const ppids = new Map([[10, 1], [11, 10], [12, 11], [13, 10], [20, 1], [21, 20]]);
    expect(descendantsIn(10, ppids).sort()).toEqual([11, 12, 13]);
    expect(descendantsIn(21, ppids)).toEqual([]);
  });
});

/** A process table in memory; signals act on it as `behave` says. */
class FakeProcs implements ProcSource {
  readonly available: boolean;
  readonly procs = new Map<number, ProcStat & { env: string; ignoresTerm?: boolean; onTerm?: () => void }>();
  readonly signals: Array<[number, string]> = [];
  /** Environments read, per pid. */
  readonly environReads = new Map<number, number>();
  constructor(available = true) {
    this.available = available;
  }
  add(pid: number, ppid: number, env: Record<string, string>, extra: { ignoresTerm?: boolean; start?: number; onTerm?: () => void } = {}): void {
    const text = Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join('');
    this.procs.set(pid, { state: 'S', ppid, start: extra.start ?? pid * 10, env: text, ignoresTerm: extra.ignoresTerm, onTerm: extra.onTerm });
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
  /** A process that exits becomes a zombie of init, as a re-parented leftover does. */
  kill = (pid: number, signal: NodeJS.Signals): boolean => {
    const proc = this.procs.get(pid);
    if (!proc) return false;
    this.signals.push([pid, signal]);
    if (signal === 'SIGTERM') proc.onTerm?.();
    if (signal === 'SIGKILL' || !proc.ignoresTerm) proc.state = 'Z';
    return true;
  };
}

describe('TreeReaper', () => {
  it('SIGTERMs what carries the worker\'s token, and resolves once it is gone', async () => {
    const procs = new FakeProcs();
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 1 });
    const token = reaper.token();
    procs.add(101, 1, { NSUP_WORKER_TOKEN: token });
    procs.add(102, 101, { NSUP_WORKER_TOKEN: token });
    procs.add(103, 1, { NSUP_WORKER_TOKEN: reaper.token() });
    procs.add(104, 1, {});
    const notices: Array<[string, number[]]> = [];
    await reaper.reap(100, token, 5000, (signal, pids) => notices.push([signal, pids]));
    expect(procs.signals).toEqual([[101, 'SIGTERM'], [102, 'SIGTERM']]);
    expect(notices).toEqual([['SIGTERM', [101, 102]]]);
  });

  it('SIGKILLs survivors after killTimeout', async () => {
    const procs = new FakeProcs();
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 1 });
    const token = reaper.token();
    procs.add(101, 1, { NSUP_WORKER_TOKEN: token }, { ignoresTerm: true });
    procs.add(102, 1, { NSUP_WORKER_TOKEN: token });
    const notices: Array<[string, number[]]> = [];
    const startedAt = Date.now();
    await reaper.reap(100, token, 150, (signal, pids) => notices.push([signal, pids]));
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
    expect(notices).toEqual([['SIGTERM', [101, 102]], ['SIGKILL', [101]]]);
    expect(procs.stat(101)?.state).toBe('Z');
  });

  it('finds a child that scrubbed its env by the tree recorded while the worker lived', async () => {
    const procs = new FakeProcs();
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 1 });
    const token = reaper.token();
    procs.add(100, 1, { NSUP_WORKER_TOKEN: token });
    procs.add(101, 100, {});
    procs.add(102, 101, {});
    reaper.track(100);
    reaper.snapshot(100);
    // The worker exits: its children are re-parented.
    procs.procs.delete(100);
    procs.procs.get(101)!.ppid = 1;
    await reaper.reap(100, token, 5000);
    expect(procs.signals.map(([pid]) => pid).sort()).toEqual([101, 102]);
  });

  it('never signals a recorded pid that now belongs to another process (start time differs)', async () => {
    const procs = new FakeProcs();
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 1 });
    const token = reaper.token();
    procs.add(100, 1, {});
    procs.add(101, 100, {}, { start: 5 });
    reaper.track(100);
    reaper.snapshot(100);
    procs.procs.delete(100);
    procs.procs.delete(101);
    procs.add(101, 1, {}, { start: 6 });
    await reaper.reap(100, token, 5000);
    expect(procs.signals).toEqual([]);
  });

  it('never signals the primary itself, even with the token', async () => {
    const procs = new FakeProcs();
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 7 });
    const token = reaper.token();
    procs.add(7, 1, { NSUP_WORKER_TOKEN: token });
    await reaper.reap(100, token, 5000);
    expect(procs.signals).toEqual([]);
  });

  it('a leftover forked while the others stop gets SIGTERM too', async () => {
    const procs = new FakeProcs();
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 1 });
    const token = reaper.token();
    procs.add(101, 1, { NSUP_WORKER_TOKEN: token }, { onTerm: () => procs.add(150, 101, { NSUP_WORKER_TOKEN: token }) });
    await reaper.reap(100, token, 5000);
    expect(procs.signals).toEqual([[101, 'SIGTERM'], [150, 'SIGTERM']]);
  });

  it('does not wait for a process it may not signal (EPERM)', async () => {
    const procs = new FakeProcs();
    const reaper = new TreeReaper({ source: procs, kill: () => false, self: 1 });
    const token = reaper.token();
    procs.add(101, 1, { NSUP_WORKER_TOKEN: token });
    const startedAt = Date.now();
    await reaper.reap(100, token, 5000);
    expect(Date.now() - startedAt).toBeLessThan(1000);
  });

  it('settle() resolves once every reap so far is done; at once with none', async () => {
    const procs = new FakeProcs();
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 1 });
    await reaper.settle();
    const token = reaper.token();
    procs.add(101, 1, { NSUP_WORKER_TOKEN: token }, { ignoresTerm: true });
    let reaped = false;
    void reaper.reap(100, token, 100).then(() => (reaped = true));
    await reaper.settle();
    expect(reaped).toBe(true);
    expect(procs.stat(101)?.state).toBe('Z');
  });

  it('does nothing without a process table (not Linux)', async () => {
    const procs = new FakeProcs(false);
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 1 });
    const token = reaper.token();
    procs.add(101, 1, { NSUP_WORKER_TOKEN: token });
    reaper.track(100);
    await reaper.reap(100, token, 5000);
    expect(procs.signals).toEqual([]);
  });

  it('tokens are unique per worker and name the primary', () => {
    const reaper = new TreeReaper({ source: new FakeProcs(), self: 4321 });
    const tokens = new Set(Array.from({ length: 100 }, () => reaper.token()));
    expect(tokens.size).toBe(100);
    expect([...tokens].every((t) => t.startsWith('4321.'))).toBe(true);
  });
});

// Issue 14 (scale): the live workers the reaper tracks carry their own tokens, so reading their
// environments after another worker's exit is wasted work; it made a reload or stop of N workers
// read N × N environments.
describe('TreeReaper scan after an exit (issue 14)', () => {
  it("reads no live worker's environment, and still finds the exited worker's leftover", async () => {
    const procs = new FakeProcs();
    const reaper = new TreeReaper({ source: procs, kill: procs.kill, self: 1, snapshotMs: 60_000 });
    // 8 live workers of this primary (old and new generation of a reload), each with its token.
    const workers = Array.from({ length: 8 }, (_, i) => ({ pid: 100 + i, token: reaper.token() }));
    for (const w of workers) {
      procs.add(w.pid, 1, { NSUP_WORKER_TOKEN: w.token });
      reaper.track(w.pid);
    }
    // Other processes of the machine, and one process the first worker spawned.
    for (let pid = 200; pid < 205; pid++) procs.add(pid, 1, { HOME: '/root' });
    procs.add(300, 1, { NSUP_WORKER_TOKEN: workers[0]!.token });

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
