// A worker's observed lifecycle: every from × to pair against a table written from the design.

import { describe, expect, it } from 'vitest';
import { advances, type Lifecycle } from '../../src/supervisor/worker-state.ts';

const STATES: readonly Lifecycle[] = ['starting', 'online', 'listening', 'ready'];

/**
 * from → the lifecycles a later observation may move it to. Written from the design: a worker
 * only moves forward (starting → online → listening → ready), skipping steps is fine (a 'listening'
 * can arrive before 'online'), and a late 'online' or 'listening' never moves it back.
 */
const EXPECTED: Record<Lifecycle, readonly Lifecycle[]> = {
  starting: ['online', 'listening', 'ready'],
  online: ['listening', 'ready'],
  listening: ['ready'],
  ready: [],
};

describe('advances', () => {
  const matrix = STATES.flatMap((from) => STATES.map((to) => ({ from, to, allowed: EXPECTED[from].includes(to) })));

  it('covers all 16 pairs', () => {
    expect(matrix).toHaveLength(16);
    expect(matrix.filter((c) => c.allowed)).toHaveLength(6);
  });

  for (const { from, to, allowed } of matrix) {
    it(`${from} → ${to}: ${allowed}`, () => expect(advances(from, to)).toBe(allowed));
  }
});
