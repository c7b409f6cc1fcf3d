// UsageSampler: CPU percent and RSS from /proc, against fixture trees and the real /proc.

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageSampler } from '../../src/metrics/usage.ts';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nsup-proc-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

// Writes /proc/<pid>/stat and /status the way Linux lays them out (utime field 14, stime 15, starttime 22).
function fakeProcess(pid: number, p: { utime: number; stime: number; start?: number; rssKb?: number; comm?: string }): void {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  const after = ['S', '1', pid, pid, 0, -1, 4194560, 1200, 0, 0, 0, p.utime, p.stime, 0, 0, 20, 0, 11, 0, p.start ?? 5000, 1_100_000_000, 12_000];
  writeFileSync(join(dir, 'stat'), `${pid} (${p.comm ?? 'node'}) ${after.join(' ')} 18446744073709551615 0 0\n`);
  const rss = p.rssKb === undefined ? '' : `VmRSS:\t${String(p.rssKb).padStart(8)} kB\n`;
  writeFileSync(join(dir, 'status'), `Name:\tnode\nState:\tS (sleeping)\nPid:\t${pid}\nVmPeak:\t 1200000 kB\n${rss}Threads:\t11\n`);
}

describe('UsageSampler', () => {
  it('reports +50 ticks over 1s as 50%, and RSS from VmRSS', () => {
    const sampler = new UsageSampler({ procRoot: root });
    fakeProcess(101, { utime: 300, stime: 100, rssKb: 53_352 });
    sampler.sample([101], 10_000);
    expect(sampler.get(101)).toEqual({ rssBytes: 53_352 * 1024, cpuPercent: null });

    fakeProcess(101, { utime: 330, stime: 120, rssKb: 60_000 });
    sampler.sample([101], 11_000);
    expect(sampler.get(101)).toEqual({ rssBytes: 60_000 * 1024, cpuPercent: 50 });
  });

  it('reads the fields after a process name holding spaces and parentheses', () => {
    const sampler = new UsageSampler({ procRoot: root });
    fakeProcess(102, { utime: 0, stime: 0, rssKb: 1, comm: 'nsup: (web) 1' });
    sampler.sample([102], 0);
    fakeProcess(102, { utime: 150, stime: 50, rssKb: 1, comm: 'nsup: (web) 1' });
    sampler.sample([102], 1_000);
    expect(sampler.get(102).cpuPercent).toBe(200);
  });

  it('returns nulls for a missing pid, a pid never sampled, and a status without VmRSS', () => {
    const sampler = new UsageSampler({ procRoot: root });
    fakeProcess(103, { utime: 1, stime: 1 });
    expect(() => sampler.sample([999, 103])).not.toThrow();
    expect(sampler.get(999)).toEqual({ rssBytes: null, cpuPercent: null });
    expect(sampler.get(4242)).toEqual({ rssBytes: null, cpuPercent: null });
    expect(sampler.get(103)).toEqual({ rssBytes: null, cpuPercent: null });
  });

  it('forgets a pid that leaves the sample list or exits', () => {
    const sampler = new UsageSampler({ procRoot: root });
    fakeProcess(104, { utime: 0, stime: 0, rssKb: 10 });
    fakeProcess(105, { utime: 0, stime: 0, rssKb: 10 });
    sampler.sample([104, 105], 0);
    rmSync(join(root, '105'), { recursive: true });
    sampler.sample([105], 1_000);
    expect(sampler.get(104)).toEqual({ rssBytes: null, cpuPercent: null });
    expect(sampler.get(105)).toEqual({ rssBytes: null, cpuPercent: null });

    // Back in the list: one sample is not enough for a CPU figure again.
    sampler.sample([104], 2_000);
    expect(sampler.get(104)).toEqual({ rssBytes: 10 * 1024, cpuPercent: null });
  });

  it('starts over when the pid is reused by a new process', () => {
    const sampler = new UsageSampler({ procRoot: root });
    fakeProcess(106, { utime: 900, stime: 100, start: 5000, rssKb: 10 });
    sampler.sample([106], 0);
    fakeProcess(106, { utime: 10, stime: 0, start: 9000, rssKb: 10 });
    sampler.sample([106], 1_000);
    expect(sampler.get(106).cpuPercent).toBeNull();
    fakeProcess(106, { utime: 20, stime: 0, start: 9000, rssKb: 10 });
    sampler.sample([106], 2_000);
    expect(sampler.get(106).cpuPercent).toBe(10);
  });

  it.runIf(existsSync('/proc/self/stat'))('samples this process from the real /proc', () => {
    const sampler = new UsageSampler();
    sampler.sample([process.pid]);
    const first = sampler.get(process.pid);
    expect(first.rssBytes).toBeGreaterThan(0);
    expect(first.cpuPercent).toBeNull();
    sampler.sample([process.pid]);
    expect(sampler.get(process.pid).cpuPercent).toBeGreaterThanOrEqual(0);
  });
});
