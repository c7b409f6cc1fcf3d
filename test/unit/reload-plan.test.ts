// The rolling reload plan: surge the new generation batch by batch, retire the old only when all
// new workers are up, roll back on any failure.
import { describe, expect, it } from 'vitest';
import { nextReloadStep, type ReloadView } from '../../src/supervisor/reload-plan.ts';

const up = (slot: number) => ({ slot, up: true, failed: null });
const starting = (slot: number) => ({ slot, up: false, failed: null });
const failed = (slot: number, why: string) => ({ slot, up: false, failed: why });

const matrix: Array<[string, ReloadView, ReturnType<typeof nextReloadStep>]> = [
  ['first step forks slot 0', { desired: 2, batch: 1, phase: 'surge', incoming: [], oldAlive: 2 }, { kind: 'fork', slots: [0] }],
  ['waits while the batch is starting', { desired: 2, batch: 1, phase: 'surge', incoming: [starting(0)], oldAlive: 2 }, { kind: 'wait' }],
  ['forks the next slot once one is up', { desired: 2, batch: 1, phase: 'surge', incoming: [up(0)], oldAlive: 2 }, { kind: 'fork', slots: [1] }],
  ['batch 2 forks two at once', { desired: 3, batch: 2, phase: 'surge', incoming: [], oldAlive: 3 }, { kind: 'fork', slots: [0, 1] }],
  ['batch 2 refills the batch', { desired: 3, batch: 2, phase: 'surge', incoming: [up(0), starting(1)], oldAlive: 3 }, { kind: 'fork', slots: [2] }],
  ['retires only when all are up', { desired: 2, batch: 1, phase: 'surge', incoming: [up(0), up(1)], oldAlive: 2 }, { kind: 'retire' }],
  ['scale up during reload', { desired: 3, batch: 1, phase: 'surge', incoming: [up(0), up(1)], oldAlive: 2 }, { kind: 'fork', slots: [2] }],
  ['scale down during reload', { desired: 1, batch: 1, phase: 'surge', incoming: [up(0)], oldAlive: 3 }, { kind: 'retire' }],
  ['waits for the old to drain', { desired: 2, batch: 1, phase: 'retire', incoming: [up(0), up(1)], oldAlive: 1 }, { kind: 'wait' }],
  ['done once the old are gone', { desired: 2, batch: 1, phase: 'retire', incoming: [up(0), up(1)], oldAlive: 0 }, { kind: 'done' }],
  ['nothing old (errored app) still surges first', { desired: 1, batch: 1, phase: 'surge', incoming: [], oldAlive: 0 }, { kind: 'fork', slots: [0] }],
  [
    'a failure rolls back',
    { desired: 2, batch: 1, phase: 'surge', incoming: [up(0), failed(1, 'exited before it was up: boom')], oldAlive: 2 },
    { kind: 'rollback', reason: 'worker 1 of the new generation exited before it was up: boom' },
  ],
  [
    'a failure wins over everything else',
    { desired: 1, batch: 1, phase: 'retire', incoming: [failed(0, 'did not listen within 10.0s')], oldAlive: 0 },
    { kind: 'rollback', reason: 'worker 0 of the new generation did not listen within 10.0s' },
  ],
];

describe('nextReloadStep', () => {
  it.each(matrix)('%s', (_name, view, expected) => {
    expect(nextReloadStep(view)).toEqual(expected);
  });
});
