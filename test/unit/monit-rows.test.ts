// nsup monit's table as data (issue 15): items, cells ('-' for every figure not known yet), selection across refreshes, keys.
import { describe, expect, it } from 'vitest';
import type { AppStatus, SupervisorStatus, WorkerStatus } from '../../src/control/types.ts';
import { parseArgv } from '../../src/cli/parse.ts';
import { actionOf } from '../../src/monit/keys.ts';
import { appSummary, failureHeading, itemsOf, monitLines, resolveSelection, sanitize, workerCells, type PolledSupervisor } from '../../src/monit/rows.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');

function worker(id: number, extra: Partial<WorkerStatus> & Record<string, unknown> = {}): WorkerStatus {
  return { id, pid: 1000 + id, state: 'listening', generation: 1, restarts: 0, uptimeMs: 65_000, rssBytes: 50 * 1024 * 1024, cpuPercent: 1.25, up: true, addresses: [':3000'], notUpReason: null, connections: null, ...extra } as WorkerStatus;
}

function app(name: string, workers: WorkerStatus[], extra: Partial<AppStatus> = {}): AppStatus {
  return { name, state: 'running', desired: workers.length, generation: 1, readyWhen: 'listening', script: `/srv/${name}.js`, lastFailure: null, lastReload: null, workers, primaryHooks: [], ...extra };
}

function sup(pid: number, apps: AppStatus[]): PolledSupervisor {
  const status: SupervisorStatus = { pid, startedAt: '2026-01-01T11:00:00Z', node: 'v24', config: null, mode: 'daemon', apps };
  return { path: `/run/${pid}.sock`, status };
}

const live = { requests: 120, reqPerSec: 41.6, elu: 0.1, eventLoopDelayMs: { p50: 0.4, p99: 2.25, max: 9 } };

describe('monit rows', () => {
  it('shows every figure, and - for each one a worker has not reported yet (null, or absent from an older supervisor)', () => {
    expect(workerCells(worker(0, { live }))).toEqual(['0', '1000', 'listening', '1m', '0', '1.3%', '50.0 MB', '42', '2.3ms', '1']);
    expect(workerCells(worker(0, { live: { ...live, reqPerSec: 3.14159 } }))[7]).toBe('3.1');
    expect(workerCells(worker(1, { live: null, cpuPercent: null, rssBytes: null })).slice(5, 9)).toEqual(['-', '-', '-', '-']);
    expect(workerCells(worker(1)).slice(7, 9)).toEqual(['-', '-']);
    // A field L may leave out (or a partial object) is '-' too, never NaN or a crash.
    expect(workerCells(worker(1, { live: { requests: 1 } })).slice(7, 9)).toEqual(['-', '-']);
    expect(workerCells(worker(2, { pid: null, state: 'waiting' })).slice(0, 4)).toEqual(['2', '-', 'waiting', '-']);
  });

  it('lists apps by name with their workers by slot, one item for an app without workers, and filters one app', () => {
    const lines = monitLines([sup(7, [app('web', [worker(1), worker(0)]), app('api', [], { state: 'stopped', desired: 0 })])], undefined, NOW);
    expect(lines.map((l) => (l.kind === 'app' ? `app ${l.app.name}` : l.item.key))).toEqual(['app api', '7/api/-', 'app web', '7/web/0/1', '7/web/1/1']);
    expect(itemsOf(monitLines([sup(7, [app('web', [worker(0)]), app('api', [worker(0)])])], 'web', NOW)).map((i) => i.key)).toEqual(['7/web/0/1']);
  });

  it('keeps the selection on the same worker, then on its slot after a reload, else on the same place', () => {
    const before = itemsOf(monitLines([sup(7, [app('web', [worker(0), worker(1), worker(2)])])], undefined, NOW));
    expect(resolveSelection(before, '7/web/1/1', 0)).toBe(1);
    const reloaded = itemsOf(monitLines([sup(7, [app('web', [worker(0, { generation: 2 }), worker(1, { generation: 2 })])])], undefined, NOW));
    expect(resolveSelection(reloaded, '7/web/1/1', 1)).toBe(1);
    expect(resolveSelection(reloaded, '7/web/2/1', 2)).toBe(1);
    expect(resolveSelection([], '7/web/0/1', 0)).toBe(-1);
  });

  it("sums the app's req/s and shows its last reload (from the history, else lastReload) and its last failure", () => {
    const reloads = [{ generation: 3, trigger: 'nsup reload', startedAt: '2026-01-01T11:55:00Z', durationMs: 1200, ok: true }];
    const summary = appSummary(app('web', [worker(0, { live }), worker(1, { live: { ...live, reqPerSec: 10.4 } })], { generation: 3, reloads } as Partial<AppStatus>), null, NOW);
    expect(summary).toBe('web  running  2/2 up  gen 3  52 req/s  last reload 5m ago: gen 3 in 1.2s');
    const rolledBack = appSummary(app('web', [worker(0)], { lastReload: { ok: false, generation: 2, durationMs: 800, reason: 'worker 0 exited\nstack' } }), 9, NOW);
    expect(rolledBack).toBe('web  running  1/1 up  gen 1  last reload rolled back: worker 0 exited  (supervisor 9)');
    const failed = app('web', [worker(0)], { lastFailure: { at: '2026-01-01T11:57:00Z', worker: 1, pid: 4242, code: 1, signal: null, reason: 'exited with code 1: Error: boom', stderr: ['Error: boom'] } });
    expect(failureHeading(failed, NOW)).toBe('3m ago, worker 1 (pid 4242): exited with code 1: Error: boom');
    expect(failureHeading(app('web', []), NOW)).toBeNull();
  });

  it("strips a worker's escape sequences and control characters before they reach the terminal", () => {
    expect(sanitize('\u001b[2J\u001b[31mred\u001b[0m\u001b]0;title\u0007 done\r')).toBe('red done');
  });
});

describe('monit keys', () => {
  const none = {};
  it('maps arrows and j/k to moves, r to reload, +/= and -/_ to scale, q and Ctrl-C to quit; other keys to nothing', () => {
    expect(actionOf('', { upArrow: true })).toEqual({ type: 'move', by: -1 });
    expect(actionOf('', { downArrow: true })).toEqual({ type: 'move', by: 1 });
    expect(actionOf('k', none)).toEqual({ type: 'move', by: -1 });
    expect(actionOf('j', none)).toEqual({ type: 'move', by: 1 });
    expect(actionOf('r', none)).toEqual({ type: 'reload' });
    expect(actionOf('+', none)).toEqual({ type: 'scale', delta: 1 });
    expect(actionOf('=', none)).toEqual({ type: 'scale', delta: 1 });
    expect(actionOf('-', none)).toEqual({ type: 'scale', delta: -1 });
    expect(actionOf('q', none)).toEqual({ type: 'quit' });
    expect(actionOf('c', { ctrl: true })).toEqual({ type: 'quit' });
    expect(actionOf('r', { ctrl: true })).toBeNull();
    expect(actionOf('x', none)).toBeNull();
  });
});

describe('nsup monit command line', () => {
  it('takes an optional app name', async () => {
    expect(await parseArgv(['monit'])).toMatchObject({ command: 'monit' });
    expect((await parseArgv(['monit'])).args.name).toBeUndefined();
    expect(await parseArgv(['monit', 'web'])).toMatchObject({ command: 'monit', args: { name: 'web' } });
    await expect(parseArgv(['monit', 'web', 'api'])).rejects.toThrow();
  });
});
