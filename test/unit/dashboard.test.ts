// Issue 15, the dashboard's pure parts: the 15-minute ring (bounded, oldest first, gaps), the
// samples taken from a status document, the token file (0600, reused, refused when unsafe),
// the bearer check, the Host check (DNS rebinding), the scale body, and the config key with its flag.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configFromFlags } from '../../src/config/flags.ts';
import { resolveConfig } from '../../src/config/schema.ts';
import type { SupervisorStatus, WorkerStatus } from '../../src/control/types.ts';
import { scaleChange } from '../../src/dashboard/actions.ts';
import { History, sampleStatus } from '../../src/dashboard/history.ts';
import { hostAllowed } from '../../src/dashboard/routes.ts';
import { bearerMatches, ensureToken } from '../../src/dashboard/token.ts';
import { ConfigInvalidError } from '../../src/errors.ts';
import { FIXTURES } from '../helpers/tmp-project.ts';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'nsup-dash-'));
  dirs.push(d);
  return d;
};
const sample = (n: number | null, restarts = 0) => ({ reqPerSec: n, rssBytes: n, cpuPercent: n, restarts });

describe('dashboard history', () => {
  it('keeps the last `capacity` samples, oldest first, and overwrites the oldest', () => {
    const h = new History(3);
    for (let i = 1; i <= 5; i++) h.record(i * 1000, new Map([['web', sample(i, i)]]));
    const doc = h.toJSON();
    expect(doc.t).toEqual([3, 4, 5]);
    expect(doc.apps.web).toEqual({ reqPerSec: [3, 4, 5], rssBytes: [3, 4, 5], cpuPercent: [3, 4, 5], restarts: [3, 4, 5] });
  });

  it('shows unknown figures and an app that came later as gaps, and forgets an app once its window is empty', () => {
    const h = new History(3);
    h.record(1000, new Map([['web', sample(null)]]));
    h.record(2000, new Map([['web', sample(2)], ['api', sample(7)]]));
    expect(h.toJSON().apps).toEqual({
      web: { reqPerSec: [null, 2], rssBytes: [null, 2], cpuPercent: [null, 2], restarts: [0, 0] },
      api: { reqPerSec: [null, 7], rssBytes: [null, 7], cpuPercent: [null, 7], restarts: [null, 0] },
    });
    for (let t = 3; t <= 5; t++) h.record(t * 1000, new Map([['web', sample(t)]]));
    expect(Object.keys(h.toJSON().apps)).toEqual(['web']);
  });

  it('sums the live figures of the workers that have them; null when none does', () => {
    const w = (pid: number | null, extra: Partial<WorkerStatus> & { live?: unknown }) => ({ id: 0, pid, rssBytes: null, cpuPercent: null, ...extra }) as WorkerStatus;
    const live = (reqPerSec: number) => ({ requests: 1, reqPerSec, elu: 0, eventLoopDelayMs: { p50: 0, p99: 0, max: 0 } });
    const status = {
      apps: [
        { name: 'web', workers: [w(1, { rssBytes: 100, cpuPercent: 1.5, live: live(10) }), w(2, { rssBytes: 50, live: live(2.5) }), w(null, { rssBytes: 999 })] },
        { name: 'cold', workers: [w(3, {})] },
      ],
    } as unknown as SupervisorStatus;
    const out = sampleStatus(status, (app) => (app === 'web' ? 4 : 0));
    expect(out.get('web')).toEqual({ reqPerSec: 12.5, rssBytes: 150, cpuPercent: 1.5, restarts: 4 });
    expect(out.get('cold')).toEqual({ reqPerSec: null, rssBytes: null, cpuPercent: null, restarts: 0 });
  });
});

describe('dashboard token', () => {
  it('is created 0600 with 64 hex digits, and the same token is read back by the next supervisor', () => {
    const dir = tmp();
    const token = ensureToken(dir);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(dir, 'dashboard.token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'dashboard.token'), 'utf8').trim()).toBe(token);
    expect(ensureToken(dir)).toBe(token);
  });

  it('refuses a token file others can read, a symlink, or one without a token', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'dashboard.token'), `${'a'.repeat(64)}\n`, { mode: 0o644 });
    chmodSync(join(dir, 'dashboard.token'), 0o644);
    expect(() => ensureToken(dir)).toThrow(/its mode is 644, readable by others\. Remove it/);
    const other = tmp();
    writeFileSync(join(other, 'real'), 'a'.repeat(64), { mode: 0o600 });
    symlinkSync(join(other, 'real'), join(other, 'dashboard.token'));
    expect(() => ensureToken(other)).toThrow(/cannot use the dashboard token file/);
    const junk = tmp();
    writeFileSync(join(junk, 'dashboard.token'), 'hello', { mode: 0o600 });
    expect(() => ensureToken(junk)).toThrow(/does not hold a token/);
  });

  it('matches only `Bearer <the token>`', () => {
    const token = 'ab'.repeat(32);
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    for (const header of [undefined, '', token, `Basic ${token}`, `Bearer ${token}x`, `Bearer ${token.slice(1)}`, 'Bearer ']) expect(bearerMatches(header, token)).toBe(false);
  });
});

describe('dashboard Host check', () => {
  it('on a loopback host admits loopback names only, with or without a port; elsewhere, any', () => {
    for (const host of ['127.0.0.1:9209', '127.0.0.1', 'localhost:9209', 'LOCALHOST', 'app.localhost:1', '127.1.2.3:80', '[::1]:9209', '[::1]', undefined]) {
      expect(hostAllowed(host, '127.0.0.1'), String(host)).toBe(true);
      expect(hostAllowed(host, '::1'), String(host)).toBe(true);
    }
    for (const host of ['evil.example:9209', 'evil.example', '127.0.0.1.evil.example', 'localhost.evil.example:9209', '10.0.0.5:9209', '[::2]:9209', '', '[::1']) expect(hostAllowed(host, 'localhost'), host).toBe(false);
    for (const host of ['evil.example:9209', 'metrics.internal', undefined]) expect(hostAllowed(host, '0.0.0.0')).toBe(true);
  });
});

describe('dashboard scale body', () => {
  it('takes { to } or { delta }, nothing else', () => {
    expect(scaleChange({ to: 3 })).toEqual({ to: 3 });
    expect(scaleChange({ delta: -1 })).toEqual({ delta: -1 });
    for (const body of [undefined, null, {}, { to: 0 }, { to: 1.5 }, { delta: 0 }, { to: 2, delta: 1 }, { to: '3' }, { to: 5000 }]) expect(typeof scaleChange(body)).toBe('string');
  });
});

describe('dashboard config key', () => {
  const app = { script: `${FIXTURES}http-ok.js` };
  it('is off by default, on with metrics.dashboard or --dashboard', async () => {
    expect(resolveConfig({ apps: [app], metrics: { port: 9209 } }, { file: null, baseDir: '/' }).metrics).toEqual({ port: 9209, host: '127.0.0.1', dashboard: false });
    expect(resolveConfig({ apps: [app], metrics: { port: 9209, dashboard: true } }, { file: null, baseDir: '/' }).metrics?.dashboard).toBe(true);
    expect((await configFromFlags({ script: app.script, metricsPort: 0, dashboard: true })).metrics).toEqual({ port: 0, host: '127.0.0.1', dashboard: true });
  });

  it('without a metrics port is an error naming --metrics-port (and metrics.port in a file)', async () => {
    const err = await configFromFlags({ script: app.script, dashboard: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigInvalidError);
    expect((err as Error).message).toMatch(/^Invalid config on the command line at --metrics-port: the dashboard is served on the metrics port, and none is set\. Set metrics\.port \(or --metrics-port/);
    expect(() => resolveConfig({ apps: [app], metrics: { dashboard: true } }, { file: '/tmp/supervisor.config.ts', baseDir: '/tmp' })).toThrow(/at metrics\.port: the dashboard is served on the metrics port/);
    expect(() => resolveConfig({ apps: [app], metrics: { port: 1, dashboard: 'yes' } }, { file: null, baseDir: '/' })).toThrow(/at metrics\.dashboard: got "yes" \(string\); expected true or false/);
  });
});
