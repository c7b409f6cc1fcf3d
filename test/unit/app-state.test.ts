// deriveAppState: the app state shown by status, from slots and the supervisor's mode.

import { describe, expect, it } from 'vitest';
import { deriveAppState, type AppState, type SlotView } from '../../src/supervisor/app-state.ts';
import { CRASH_LOOP_FAILURES } from '../../src/supervisor/backoff.ts';

const up = (failures = 0): SlotView => ({ up: true, failures, halted: false });
const down = (failures = 0): SlotView => ({ up: false, failures, halted: false });
const halted = (failures = 6): SlotView => ({ up: false, failures, halted: true });

const idle = { stopping: false, reloading: false };
const stopping = { stopping: true, reloading: false };
const reloading = { stopping: false, reloading: true };

describe('deriveAppState', () => {
  const matrix: Array<{ name: string; slots: SlotView[]; mode: { stopping: boolean; reloading: boolean }; expected: AppState }> = [
    // stopping wins over everything.
    { name: 'stopping, all up', slots: [up(), up()], mode: stopping, expected: 'stopping' },
    { name: 'stopping, a halted slot', slots: [halted(), up()], mode: stopping, expected: 'stopping' },
    { name: 'stopping, a crash-looping slot', slots: [down(3)], mode: stopping, expected: 'stopping' },
    { name: 'stopping while reloading', slots: [up()], mode: { stopping: true, reloading: true }, expected: 'stopping' },
    { name: 'stopping, no slots', slots: [], mode: stopping, expected: 'stopping' },

    // halted → errored, over crash-loop and reloading.
    { name: 'one halted slot among up ones', slots: [up(), halted(), up()], mode: idle, expected: 'errored' },
    { name: 'halted and crash-looping', slots: [down(4), halted()], mode: idle, expected: 'errored' },
    { name: 'halted while reloading', slots: [halted(), up()], mode: reloading, expected: 'errored' },
    { name: 'halted with failures 0 (maxRestarts 0 edge)', slots: [halted(0)], mode: idle, expected: 'errored' },

    // A down slot with failures >= 2 → crash-loop, over reloading.
    { name: 'down slot, failures 2', slots: [up(), down(2)], mode: idle, expected: 'crash-loop' },
    { name: 'down slot, failures 10', slots: [down(10)], mode: idle, expected: 'crash-loop' },
    { name: 'crash-loop while reloading', slots: [up(), down(2)], mode: reloading, expected: 'crash-loop' },

    // A down slot with fewer failures is still starting (the first failure may be bad luck).
    { name: 'down slot, failures 1', slots: [up(), down(1)], mode: idle, expected: 'starting' },
    { name: 'down slot, failures 0', slots: [down(0), down(0)], mode: idle, expected: 'starting' },

    // reloading, when nothing is wrong.
    { name: 'reloading, all up', slots: [up(), up()], mode: reloading, expected: 'reloading' },
    { name: 'reloading, a slot down once', slots: [up(), down(1)], mode: reloading, expected: 'reloading' },

    // all up → running, whatever the failure counters say.
    { name: 'all up', slots: [up(), up(), up()], mode: idle, expected: 'running' },
    { name: 'an up slot with failures 5', slots: [up(5), up()], mode: idle, expected: 'running' },
    { name: 'every up slot with failures', slots: [up(2), up(100)], mode: idle, expected: 'running' },
    // No slots: `every` over nothing is true.
    { name: 'no slots', slots: [], mode: idle, expected: 'running' },
  ];

  it.each(matrix)('$name → $expected', ({ slots, mode, expected }) => {
    expect(deriveAppState(slots, mode)).toBe(expected);
  });

  it('crash-loop starts exactly at CRASH_LOOP_FAILURES', () => {
    expect(CRASH_LOOP_FAILURES).toBe(2);
    expect(deriveAppState([down(CRASH_LOOP_FAILURES - 1)], idle)).toBe('starting');
    expect(deriveAppState([down(CRASH_LOOP_FAILURES)], idle)).toBe('crash-loop');
  });
});
