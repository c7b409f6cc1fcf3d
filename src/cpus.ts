// How many CPUs this process may really use: the smaller of its CPU affinity and its cgroup
// CPU quota (v1 or v2), so `instances: 'max'` does not fork 64 workers into a 2-CPU container.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, posix } from 'node:path';
import { ConfigInvalidError } from './errors.ts';

/** How many CPUs this process may really use, and where the number came from (for the log). */
export interface CpuCount {
  count: number;
  source: string;
}

/** Where to look for the limits; the defaults are the real files, tests point them at fixtures. */
export interface CpuProbeOptions {
  /** Root of the cgroup filesystem. Default '/sys/fs/cgroup'. */
  cgroupRoot?: string;
  /** Path of the /proc/self/cgroup file. Default '/proc/self/cgroup'. */
  procSelfCgroup?: string;
  /** Path of the /proc/self/status file (for Cpus_allowed_list = CPU affinity). Default '/proc/self/status'. */
  procSelfStatus?: string;
}

/** The smallest of the CPU affinity count and the cgroup quota (rounded up, at least 1); never throws. */
export function availableCpus(opts: CpuProbeOptions = {}): CpuCount {
  const affinity = affinityCount(opts.procSelfStatus ?? '/proc/self/status');
  const quota = cgroupQuota(opts.cgroupRoot ?? '/sys/fs/cgroup', opts.procSelfCgroup ?? '/proc/self/cgroup');
  if (!quota) return affinity;
  if (affinity.count < quota.count) return { count: affinity.count, source: `${affinity.source} < ${quota.source}` };
  const op = quota.count === affinity.count ? '≤' : '<';
  return { count: quota.count, source: `${quota.source} ${op} ${affinity.source}` };
}

/** 'max' -> availableCpus; -1 -> max-1 (at least 1); positive integer N -> N. */
export function resolveInstances(value: 'max' | number, opts?: CpuProbeOptions): CpuCount {
  if (value === 'max') {
    const cpus = availableCpus(opts);
    return { count: cpus.count, source: `max: ${cpus.source}` };
  }
  if (value === -1) {
    const cpus = availableCpus(opts);
    const count = Math.max(1, cpus.count - 1);
    const floor = cpus.count - 1 < 1 ? ' (at least 1)' : '';
    return { count, source: `-1: ${cpus.source}, minus one = ${count}${floor}` };
  }
  if (Number.isSafeInteger(value) && value > 0) return { count: value, source: `instances: ${value} (explicit)` };
  throw new ConfigInvalidError(
    'instances',
    `instances must be 'max', -1 or a positive integer; received ${String(value)}. ` +
      `Use 'max' for one worker per usable CPU.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Internal helpers

/** A cgroup quota in CPUs (quota/period), before rounding, with its description. */
interface Quota {
  cpus: number;
  text: string;
  /** The ancestor cgroup that set it, when not the process's own. */
  on?: string;
}

/** CPU affinity from `Cpus_allowed_list:`, else os.availableParallelism(). */
function affinityCount(statusFile: string): CpuCount {
  const line = readText(statusFile)?.match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1];
  const n = line === undefined ? 0 : parseCpuList(line);
  if (n > 0) return { count: n, source: `cpu affinity (${n} CPU${n === 1 ? '' : 's'})` };
  const p = availableParallelism();
  return { count: p, source: `os.availableParallelism() (${p} CPU${p === 1 ? '' : 's'})` };
}

/** Counts a kernel CPU list such as `0-3,6,8-9` (= 7); 0 if it does not parse. */
function parseCpuList(list: string): number {
  let n = 0;
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return 0;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return 0;
    n += hi - lo + 1;
  }
  return n;
}

/** The tightest cgroup quota (v2 and v1 alike; hybrid hosts may show both), rounded up; null = no limit. */
function cgroupQuota(root: string, procSelfCgroup: string): CpuCount | null {
  const text = readText(procSelfCgroup);
  if (text === undefined) return null;
  let best: Quota | null = null;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, controllers = '', path = '/'] = m;
    let q: Quota | null = null;
    if (id === '0' && controllers === '') q = tightest(root, path, (dir) => v2Quota(dir));
    else if (controllers.split(',').includes('cpu')) q = v1Quota(root, controllers, path);
    if (q && (!best || q.cpus < best.cpus)) best = q;
  }
  if (!best) return null;
  const count = Math.max(1, Math.ceil(best.cpus));
  const ratio = Math.round(best.cpus * 1000) / 1000;
  const on = best.on === undefined ? '' : ` (on ${best.on})`;
  return { count, source: `${best.text} = ${ratio}${ratio === count ? '' : ` → ${count}`}${on}` };
}

/** cgroup v1: find the cpu hierarchy's mount, then walk the path like v2 does. */
function v1Quota(root: string, controllers: string, path: string): Quota | null {
  for (const mount of new Set([controllers, 'cpu,cpuacct', 'cpuacct,cpu', 'cpu'])) {
    const q = tightest(join(root, mount), path, (dir) => {
      const quota = readNumber(join(dir, 'cpu.cfs_quota_us'));
      const period = readNumber(join(dir, 'cpu.cfs_period_us'));
      if (quota === undefined || period === undefined || quota <= 0 || period <= 0) return null;
      return { cpus: quota / period, text: `cgroup v1 cfs quota ${quota}/${period}` };
    });
    if (q) return q;
  }
  return null;
}

/** cgroup v2: one directory's `cpu.max` ("<quota> <period>" or "max <period>"); null = no limit. */
function v2Quota(dir: string): Quota | null {
  const m = /^(\d+)\s+(\d+)$/.exec(readText(join(dir, 'cpu.max'))?.trim() ?? '');
  if (!m) return null;
  const quota = Number(m[1]);
  const period = Number(m[2]);
  if (quota <= 0 || period <= 0) return null;
  return { cpus: quota / period, text: `cgroup v2 cpu.max ${quota}/${period}` };
}

/**
 * The smallest quota at `path` and every ancestor up to the hierarchy root (a parent may be
 * tighter; in a cgroup namespace the leaf may not exist and the root file applies).
 */
function tightest(root: string, path: string, probe: (dir: string) => Quota | null): Quota | null {
  let best: Quota | null = null;
  const leaf = posix.normalize(`/${path.replace(/ \(deleted\)$/, '')}`);
  for (let level = leaf; ; level = posix.dirname(level)) {
    const q = probe(join(root, level));
    if (q) {
      if (level !== leaf) q.on = level;
      if (!best || q.cpus < best.cpus) best = q;
    }
    if (level === '/') return best;
  }
}

/** A file's text, or undefined when it cannot be read. */
function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A file holding one integer, or undefined. */
function readNumber(file: string): number | undefined {
  const text = readText(file)?.trim();
  return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : undefined;
}
