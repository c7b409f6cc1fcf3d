// The worker state machine: every from × to pair against a table written from the design.

import { describe, expect, it } from 'vitest';
import { ALIVE, canTransition, isUp, type WorkerState } from '../../src/supervisor/worker-state.ts';

const STATES: readonly WorkerState[] = ['waiting', 'starting', 'online', 'listening', 'ready', 'stopping', 'exited'];

/**
 * from → the states it may move to. Written from the design, not copied from the source:
 * waiting→starting; starting→online; online/starting/ready→listening; starting/online/listening→ready;
 * starting/online/listening/ready→stopping; every non-exited state→exited; nothing leaves exited;
 * nothing enters waiting by a transition (a slot is created waiting).
 */
const EXPECTED: Record<WorkerState, readonly WorkerState[]> = {
  waiting: ['starting', 'exited'],
  starting: ['online', 'listening', 'ready', 'stopping', 'exited'],
  online: ['listening', 'ready', 'stopping', 'exited'],
  listening: ['ready', 'stopping', 'exited'],
  ready: ['listening', 'stopping', 'exited'],
  stopping: ['exited'],
  exited: [],
};

describe('canTransition', () => {
  const matrix = STATES.flatMap((from) => STATES.map((to) => ({ from, to, allowed: EXPECTED[from].includes(to) })));

  it('covers all 49 pairs', () => {
    expect(matrix).toHaveLength(49);
    expect(matrix.filter((c) => c.allowed)).toHaveLength(18);
  });

  it.each(matrix)('$from → $to: $allowed', ({ from, to, allowed }) => {
    expect(canTransition(from, to)).toBe(allowed);
  });

  it.each(STATES)('nothing moves into waiting (from %s)', (from) => {
    expect(canTransition(from, 'waiting')).toBe(false);
  });

  it.each(STATES)('nothing leaves exited (to %s)', (to) => {
    expect(canTransition('exited', to)).toBe(false);
  });

  it.each(STATES.filter((s) => s !== 'exited'))('%s may always exit', (from) => {
    expect(canTransition(from, 'exited')).toBe(true);
  });

  it.each(STATES)('no self-transition on %s', (state) => {
    expect(canTransition(state, state)).toBe(false);
  });
});

describe('isUp', () => {
  const matrix: Array<{ state: WorkerState; plain: boolean; waitReady: boolean }> = [
    { state: 'waiting', plain: false, waitReady: false },
    { state: 'starting', plain: false, waitReady: false },
    { state: 'online', plain: false, waitReady: false },
    { state: 'listening', plain: true, waitReady: false },
    { state: 'ready', plain: true, waitReady: true },
    { state: 'stopping', plain: false, waitReady: false },
    { state: 'exited', plain: false, waitReady: false },
  ];

  it.each(matrix)('$state: up=$plain without waitReady, up=$waitReady with it', ({ state, plain, waitReady }) => {
    expect(isUp(state, false)).toBe(plain);
    expect(isUp(state, true)).toBe(waitReady);
  });
});

describe('ALIVE', () => {
  it('holds exactly the states in which a process exists', () => {
    expect([...ALIVE].sort()).toEqual(['listening', 'online', 'ready', 'starting', 'stopping']);
  });

  it.each(STATES.map((state) => ({ state, alive: !['waiting', 'exited'].includes(state) })))('$state alive: $alive', ({ state, alive }) => {
    expect(ALIVE.has(state)).toBe(alive);
  });

  it('every alive state can reach exited, and every up state is alive', () => {
    for (const state of ALIVE) expect(canTransition(state, 'exited')).toBe(true);
    for (const state of STATES) {
      if (isUp(state, false) || isUp(state, true)) expect(ALIVE.has(state)).toBe(true);
    }
  });
});
