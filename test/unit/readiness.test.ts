// Issue 11: when a worker counts as up (readyWhen), and what status says about one that is not.
import { describe, expect, it } from 'vitest';
import type { ResolvedApp } from '../../src/config/define.ts';
import type { WorkerModel } from '../../src/supervisor/model.ts';
import { isReadyNow, missingAddresses, notUpReason, requiredAddresses } from '../../src/supervisor/readiness.ts';
import type { Lifecycle } from '../../src/supervisor/worker-state.ts';

const config = (extra: Partial<ResolvedApp> = {}) => ({ readyWhen: 'listening', listen: [], listenTimeoutMs: 10_000, ...extra }) as ResolvedApp;
let key = 0;
function worker(generation: number, lifecycle: Lifecycle, addresses: string[], extra: Partial<ResolvedApp> = {}): WorkerModel {
  return { key: ++key, generation, lifecycle, addresses, forkedAt: 0, config: config(extra) } as unknown as WorkerModel;
}

describe('readyWhen', () => {
  it("'listening': a new generation's worker is up only on every address the serving generation listens on", () => {
    const old = [worker(1, 'listening', [':9001', ':3000']), worker(1, 'listening', [':9001', ':3000'])];
    const fresh = worker(2, 'listening', [':9001']);
    const app = { generation: 1, workers: [...old, fresh] };
    expect(requiredAddresses(app, fresh)).toEqual([':9001', ':3000']);
    expect(isReadyNow(app, fresh, 0)).toBe(false);
    expect(missingAddresses(app, fresh)).toEqual([':3000']);
    expect(notUpReason(app, fresh, 1500)).toMatch(/^listens on :9001, not yet on :3000 after 1\.5s \(its generation listens there; set listen/);
    fresh.addresses.push(':3000');
    expect(isReadyNow(app, fresh, 0)).toBe(true);
  });

  it("'listening' at first start: the first listen is enough until another worker shows more", () => {
    const a = worker(1, 'listening', [':9001']);
    expect(isReadyNow({ generation: 1, workers: [a] }, a, 0)).toBe(true);
    const b = worker(1, 'listening', [':9001', ':3000']);
    const c = worker(1, 'listening', [':9001']);
    expect(isReadyNow({ generation: 1, workers: [b, c] }, c, 0)).toBe(false);
  });

  it("'listening' with listen: only those addresses count; ':3000' matches any host, a host or a path only itself", () => {
    const w = worker(2, 'listening', ['127.0.0.1:3000'], { listen: [':3000', '/run/app.sock'] });
    const app = { generation: 1, workers: [worker(1, 'listening', [':8080']), w] };
    expect(requiredAddresses(app, w)).toEqual([':3000', '/run/app.sock']);
    expect(isReadyNow(app, w, 0)).toBe(false);
    w.addresses.push('/run/app.sock');
    expect(isReadyNow(app, w, 0)).toBe(true);
    const hosted = worker(1, 'listening', [':3000'], { listen: ['10.0.0.1:3000'] });
    expect(isReadyNow({ generation: 1, workers: [hosted] }, hosted, 0)).toBe(false);
  });

  it("a worker without a server: never up with 'listening', up once online with 'online', and status says why", () => {
    const idle = worker(1, 'online', []);
    expect(isReadyNow({ generation: 1, workers: [idle] }, idle, 0)).toBe(false);
    expect(notUpReason({ generation: 1, workers: [idle] }, idle, 10_000)).toBe("online, has not listened after 10.0s: a worker without a server needs readyWhen 'online'");
    const online = worker(1, 'online', [], { readyWhen: 'online' });
    // Up once it ran a second without exiting: a deploy that crashes while loading rolls back.
    expect(isReadyNow({ generation: 1, workers: [online] }, online, 999)).toBe(false);
    expect(isReadyNow({ generation: 1, workers: [online] }, online, 1000)).toBe(true);
    expect(isReadyNow({ generation: 1, workers: [] }, worker(1, 'starting', [], { readyWhen: 'online' }))).toBe(false);
  });

  it("'ready': listening is not enough; ready() is", () => {
    const w = worker(1, 'listening', [':3000'], { readyWhen: 'ready' });
    expect(isReadyNow({ generation: 1, workers: [w] }, w, 0)).toBe(false);
    expect(notUpReason({ generation: 1, workers: [w] }, w, 2000)).toMatch(/^has not called ready\(\) after 2.0s \(it listens on :3000; with readyWhen 'ready' it gets no connections before ready\(\)\)$/);
    expect(isReadyNow({ generation: 1, workers: [] }, worker(1, 'ready', [], { readyWhen: 'ready' }))).toBe(true);
  });
});

describe('listen addresses as the primary records them', () => {
  it("':port' for any host, 'host:port' for one, a unix socket as its absolute path (not 'app.sock:-1')", async () => {
    const { formatAddress } = await import('../../src/worker/spawn.ts');
    expect(formatAddress({ address: '::', port: 3000, addressType: 6 }, '/srv')).toBe(':3000');
    expect(formatAddress({ address: '0.0.0.0', port: 3000, addressType: 4 }, '/srv')).toBe(':3000');
    expect(formatAddress({ address: '127.0.0.1', port: 9000, addressType: 4 }, '/srv')).toBe('127.0.0.1:9000');
    expect(formatAddress({ address: 'app.sock', port: -1, addressType: -1 }, '/srv/app')).toBe('/srv/app/app.sock');
    expect(formatAddress({ address: '/run/app.sock', port: -1, addressType: -1 }, '/srv/app')).toBe('/run/app.sock');
  });
});
