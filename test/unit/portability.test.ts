// Where /proc does not exist (macOS, the BSDs): every /proc reader, pointed at a missing root,
// falls back to `ps`, os.availableParallelism() or a connect probe, and never throws.
// (Their Linux paths keep their own tests: usage, cpus, descendants, unix-listeners.)
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { availableCpus } from '../../src/cpus.ts';
import { UsageSampler } from '../../src/metrics/usage.ts';
import { parseCpuTime, parsePs } from '../../src/ps.ts';
import { TreeReaper, processSource } from '../../src/worker/descendants.ts';
import { parseTable, psSource } from '../../src/worker/ps-source.ts';
import { isInUse } from '../../src/worker/unix-listeners.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A directory that exists, and a /proc root inside it that does not. */
function missingProc(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-noproc-'));
  dirs.push(dir);
  return join(dir, 'proc');
}

describe('ps output', () => {
  it('parseCpuTime reads macOS (m:ss.cc) and procps ([dd-]hh:mm:ss) times', () => {
    expect(parseCpuTime('0:01.23')).toBeCloseTo(1.23);
    expect(parseCpuTime('12:00.50')).toBeCloseTo(720.5);
    expect(parseCpuTime('00:00:07')).toBe(7);
    expect(parseCpuTime('1-02:03:04')).toBe(93_784);
    expect(parseCpuTime('n/a')).toBeNaN();
    expect(parseCpuTime('1:2:3:4')).toBeNaN();
  });

  it('parsePs keeps the rest of the line in the last column, and skips short lines', () => {
    expect(parsePs('  501     1 Ss   Mon Dec  1 09:31:00 2025\n\n  7\n', 4)).toEqual([['501', '1', 'Ss', 'Mon Dec 1 09:31:00 2025']]);
  });

  it('parseTable reads a BSD ps table: first state letter, lstart as a start time', () => {
    const table = parseTable('    1     0 Ss   Mon Dec  1 09:31:00 2025\n  612     1 Z+   Mon Dec  1 10:00:00 2025\n');
    expect(table.get(612)).toEqual({ state: 'Z', ppid: 1, start: Date.parse('Mon Dec 1 10:00:00 2025') / 1000 });
    expect(table.get(1)?.start).toBeGreaterThan(0);
  });
});

describe('UsageSampler without /proc', () => {
  it('takes RSS and CPU from ps: percent over the interval between two samples', async () => {
    let cpu = '0:01.00';
    const calls: string[][] = [];
    const sampler = new UsageSampler({
      procRoot: missingProc(),
      ps: async (args) => {
        calls.push(args);
        return `  101  53352 ${cpu}\n`;
      },
    });
    await sampler.sample([101, 102], 10_000);
    expect(calls[0]).toEqual(['-o', 'pid=,rss=,time=', '-p', '101,102']);
    expect(sampler.get(101)).toEqual({ rssBytes: 53_352 * 1024, cpuPercent: null });
    // 102 is not in ps's answer: gone.
    expect(sampler.get(102)).toEqual({ rssBytes: null, cpuPercent: null });
    cpu = '0:01.50';
    await sampler.sample([101], 11_000);
    expect(sampler.get(101).cpuPercent).toBeCloseTo(50);
  });

  it('asks ps once while one is running, and CPU time going backwards (a reused pid) starts over', async () => {
    let release = (_: string) => {};
    let calls = 0;
    const sampler = new UsageSampler({
      procRoot: missingProc(),
      ps: () => {
        calls++;
        return new Promise((resolve) => (release = resolve));
      },
    });
    const first = sampler.sample([7], 0);
    const second = sampler.sample([7], 500);
    expect(calls).toBe(1);
    release('7 100 0:09.00\n');
    await Promise.all([first, second]);
    const third = sampler.sample([7], 1_000);
    release('7 100 0:01.00\n');
    await third;
    expect(sampler.get(7)).toEqual({ rssBytes: 100 * 1024, cpuPercent: null });
  });

  it('without ps (it cannot run, or it throws) every figure is unknown, nothing escapes, and ps is not asked again', async () => {
    let calls = 0;
    const missing = new UsageSampler({ procRoot: missingProc(), ps: async () => (calls++, null) });
    await expect(missing.sample([1], 0)).resolves.toBeUndefined();
    await missing.sample([1], 1_000);
    expect(calls).toBe(1);
    expect(missing.get(1)).toEqual({ rssBytes: null, cpuPercent: null });
    const throwing = new UsageSampler({ procRoot: missingProc(), ps: () => Promise.reject(new Error('spawn ps EACCES')) });
    await expect(throwing.sample([1], 0)).resolves.toBeUndefined();
    expect(throwing.get(1)).toEqual({ rssBytes: null, cpuPercent: null });
  });

  it('the real ps reports this process', async () => {
    const sampler = new UsageSampler({ procRoot: missingProc() });
    await sampler.sample([process.pid], performance.now());
    const usage = sampler.get(process.pid);
    expect(usage.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(usage.rssBytes).toBeLessThan(process.memoryUsage().rss * 2);
  });
});

describe('CPU count without /proc or cgroup files', () => {
  it('is os.availableParallelism(), and says so', () => {
    const proc = missingProc();
    const cpus = availableCpus({ cgroupRoot: join(proc, 'cgroup'), procSelfCgroup: join(proc, 'self/cgroup'), procSelfStatus: join(proc, 'self/status') });
    expect(cpus.count).toBe(availableParallelism());
    expect(cpus.source).toBe(`os.availableParallelism() (${cpus.count} CPU${cpus.count === 1 ? '' : 's'})`);
  });
});

describe('process-tree reaper without /proc', () => {
  it('uses ps when /proc is missing, and is a no-op when ps cannot run either', async () => {
    expect(processSource({ procRoot: missingProc() }).available).toBe(true);
    const none = processSource({ procRoot: missingProc(), ps: () => null });
    expect(none.available).toBe(false);
    const kills: number[] = [];
    const reaper = new TreeReaper({ source: none, kill: (pid) => (kills.push(pid), true) });
    reaper.track(4242);
    reaper.snapshot(4242);
    await reaper.reap(4242, reaper.token(), 100);
    expect(kills).toEqual([]);
  });

  it('finds what a killed worker left by the ppid links recorded while it lived, and stops it', async () => {
    // A "worker" whose child (a shell running sleep) outlives it; the child ignores no signal.
    const worker = spawn(process.execPath, ['-e', `const c = require('node:child_process').spawn('sleep', ['30'], { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(worker);
    const [line] = (await once(worker.stdout!, 'data')) as [Buffer];
    const sleepPid = Number(line.toString().trim());
    const reaper = new TreeReaper({ source: psSource(), snapshotMs: 60_000 });
    reaper.track(worker.pid!);
    reaper.snapshot(worker.pid!);
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    expect(alive(sleepPid)).toBe(true);
    const signals: string[] = [];
    await reaper.reap(worker.pid!, reaper.token(), 2_000, (signal, pids) => signals.push(`${signal} ${pids.join(',')}`));
    expect(signals).toEqual([`SIGTERM ${sleepPid}`]);
    expect(alive(sleepPid)).toBe(false);
  });
});

describe('unix socket in use, without /proc/net/unix', () => {
  it('a connect probe: a listening socket is in use, a stale socket file is not, a missing path is unknown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsup-probe-'));
    dirs.push(dir);
    const proc = missingProc();
    const live = join(dir, 'live.sock');
    const server = net.createServer().listen(live);
    await once(server, 'listening');
    try {
      expect(isInUse(live, [dir], { procRoot: proc })).toBe(true);
    } finally {
      server.close();
    }
    // A process killed while listening leaves its socket file behind.
    const stale = join(dir, 'stale.sock');
    const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(process.argv[1], () => console.log('up'))`, stale], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(holder);
    await once(holder.stdout!, 'data');
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    expect(isInUse(stale, [dir], { procRoot: proc })).toBe(false);
    expect(isInUse(join(dir, 'none.sock'), [dir], { procRoot: proc })).toBeNull();
  });

  it('uses an injected probe only when the table is missing', () => {
    const probed: string[] = [];
    expect(isInUse('/run/x.sock', ['/'], { procRoot: missingProc(), probe: (path) => (probed.push(path), true) })).toBe(true);
    expect(probed).toEqual(['/run/x.sock']);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
