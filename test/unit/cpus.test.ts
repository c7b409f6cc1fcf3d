import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { availableCpus, resolveInstances, type CpuProbeOptions } from '../../src/cpus.ts';
import { ConfigInvalidError } from '../../src/errors.ts';

const fixtures = fileURLToPath(new URL('../fixtures/cgroup/', import.meta.url));

/** Probe options pointing at test/fixtures/cgroup/<name>/{root,proc/cgroup,proc/status}. */
function fixture(name: string): CpuProbeOptions {
  const dir = `${fixtures}${name}`;
  return { cgroupRoot: `${dir}/root`, procSelfCgroup: `${dir}/proc/cgroup`, procSelfStatus: `${dir}/proc/status` };
}

describe('availableCpus: cgroup v2', () => {
  it('rounds a 150000/100000 quota up to 2 under an affinity of 8', () => {
    const cpus = availableCpus(fixture('v2-quota'));
    expect(cpus.count).toBe(2);
    expect(cpus.source).toContain('cgroup v2 cpu.max 150000/100000 = 1.5 → 2');
    expect(cpus.source).toContain('< cpu affinity (8 CPUs)');
  });

  it("'max 100000' means no limit: the affinity count wins", () => {
    const cpus = availableCpus(fixture('v2-max'));
    expect(cpus).toEqual({ count: 4, source: 'cpu affinity (4 CPUs)' });
  });

  it('uses a tighter quota set on a parent cgroup than on the leaf', () => {
    const cpus = availableCpus(fixture('v2-parent'));
    expect(cpus.count).toBe(2);
    expect(cpus.source).toContain('cgroup v2 cpu.max 200000/100000 = 2 (on /kubepods/pod1)');
  });

  it('rounds a quota below one CPU up to 1', () => {
    const cpus = availableCpus(fixture('v2-below-one'));
    expect(cpus.count).toBe(1);
    expect(cpus.source).toContain('cgroup v2 cpu.max 50000/100000 = 0.5 → 1');
  });

  it("falls back to the root's cpu.max when the own path is missing (cgroup namespace)", () => {
    const cpus = availableCpus(fixture('v2-namespace'));
    expect(cpus.count).toBe(3);
    expect(cpus.source).toContain('cgroup v2 cpu.max 300000/100000 = 3 (on /)');
  });
});

describe('availableCpus: cgroup v1', () => {
  it('reads cfs quota 200000/100000 as 2 CPUs', () => {
    const cpus = availableCpus(fixture('v1-quota'));
    expect(cpus.count).toBe(2);
    expect(cpus.source).toContain('cgroup v1 cfs quota 200000/100000 = 2');
    expect(cpus.source).toContain('cpu affinity (8 CPUs)');
  });

  it('quota -1 means no limit: the affinity count wins', () => {
    const cpus = availableCpus(fixture('v1-unlimited'));
    expect(cpus).toEqual({ count: 4, source: 'cpu affinity (4 CPUs)' });
  });

  it('finds the hierarchy mounted at <root>/cpu, with the container path "/"', () => {
    const cpus = availableCpus(fixture('v1-cpu-mount'));
    expect(cpus.count).toBe(2);
    expect(cpus.source).toContain('cgroup v1 cfs quota 150000/100000 = 1.5 → 2');
  });
});

describe('availableCpus: affinity', () => {
  it('wins when smaller than the quota, and says so', () => {
    const cpus = availableCpus(fixture('affinity-smaller'));
    expect(cpus.count).toBe(2);
    expect(cpus.source).toBe('cpu affinity (2 CPUs) < cgroup v2 cpu.max 400000/100000 = 4');
  });

  it("parses the list '0-3,6,8-9' as 7 CPUs", () => {
    expect(availableCpus(fixture('affinity-list'))).toEqual({ count: 7, source: 'cpu affinity (7 CPUs)' });
  });

  it('falls back to os.availableParallelism() when every file is missing', () => {
    const cpus = availableCpus(fixture('does-not-exist'));
    expect(cpus.count).toBeGreaterThanOrEqual(1);
    expect(cpus.count).toBe(availableParallelism());
    expect(cpus.source).toContain('os.availableParallelism()');
  });

  it('never throws with the real system files', () => {
    expect(availableCpus().count).toBeGreaterThanOrEqual(1);
  });
});

describe('resolveInstances', () => {
  it("'max' is availableCpus", () => {
    const r = resolveInstances('max', fixture('v2-quota'));
    expect(r.count).toBe(2);
    expect(r.source).toMatch(/^max: cgroup v2 cpu\.max 150000\/100000/);
  });

  it('-1 with 4 CPUs gives 3', () => {
    const r = resolveInstances(-1, fixture('v2-max'));
    expect(r).toEqual({ count: 3, source: '-1: cpu affinity (4 CPUs), minus one = 3' });
  });

  it('-1 with 1 CPU stays 1', () => {
    const r = resolveInstances(-1, fixture('v2-below-one'));
    expect(r.count).toBe(1);
    expect(r.source).toMatch(/^-1: cgroup v2 cpu\.max 50000\/100000 = 0\.5 → 1 .*, minus one = 1 \(at least 1\)$/);
  });

  it('a positive integer is taken as is, whatever the cgroup says', () => {
    expect(resolveInstances(3, fixture('v2-below-one'))).toEqual({ count: 3, source: 'instances: 3 (explicit)' });
  });

  it('rejects other values with a config error', () => {
    for (const bad of [0, -2, 1.5, Number.NaN]) {
      expect(() => resolveInstances(bad)).toThrow(ConfigInvalidError);
    }
  });
});
