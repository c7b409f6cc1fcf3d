// Issue 14: after the last reload of a burst (not between its reloads, not while stopping), the
// primary gives the memory the old generation held back to the system (ReloadController's
// afterReloads). A stub supervisor whose reloads end when the test says so.
import { describe, expect, it } from 'vitest';
import type { ResolvedApp, ResolvedConfig } from '../../src/config/define.ts';
import type { Logger } from '../../src/log/logger.ts';
import type { ReloadResult } from '../../src/supervisor/model.ts';
import { ReloadController } from '../../src/supervisor/reload.ts';
import type { Supervisor } from '../../src/supervisor/supervisor.ts';

function harness() {
  const app = { name: 'web' } as ResolvedApp;
  const finishers: Array<() => void> = [];
  const stub = {
    isStopping: false,
    apps: new Map([['web', { generation: 1, config: app }]]),
    reloadApp: (name: string) => new Promise<ReloadResult>((resolve) => finishers.push(() => resolve({ app: name, ok: true, generation: 2, durationMs: 1 }))),
  };
  const calls: string[] = [];
  const reloads = new ReloadController({
    supervisor: stub as unknown as Supervisor,
    loadConfig: async () => ({ file: null, apps: [app] }) as unknown as ResolvedConfig,
    logger: { info() {}, warn() {}, error() {} } as unknown as Logger,
    afterReloads: () => calls.push('afterReloads'),
  });
  /** Let the reload in progress end, then wait until the controller acted on it. */
  const finishOne = async () => {
    while (finishers.length === 0) await new Promise((resolve) => setImmediate(resolve));
    finishers.shift()!();
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  return { stub, reloads, calls, finishOne, settle };
}

describe('ReloadController: after the reloads', () => {
  it('runs afterReloads once after a burst of coalesced reloads, not between them', async () => {
    const { reloads, calls, finishOne, settle } = harness();
    const first = reloads.request('all', 'SIGHUP');
    const second = reloads.request('all', 'SIGHUP');
    const third = reloads.request('all', 'SIGHUP');
    await finishOne();
    await first;
    await settle();
    expect(calls).toEqual([]);
    await finishOne();
    await Promise.all([second, third]);
    await settle();
    expect(calls).toEqual(['afterReloads']);
    const fourth = reloads.request('all', 'nsup reload');
    await finishOne();
    await fourth;
    await settle();
    expect(calls).toEqual(['afterReloads', 'afterReloads']);
  });

  it('does not run it when the supervisor is stopping', async () => {
    const { stub, reloads, calls, finishOne, settle } = harness();
    const reload = reloads.request('all', 'SIGHUP');
    await finishOne();
    stub.isStopping = true;
    await reload;
    await settle();
    expect(calls).toEqual([]);
  });
});
