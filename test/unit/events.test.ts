// EventQueue: events pushed while one is handled wait their turn, FIFO, never re-entrantly.

import { describe, expect, it } from 'vitest';
import { EventQueue, type SupervisorEvent } from '../../src/supervisor/events.ts';

/** What a handler does on each event: push these follow-up events from inside the handler. */
type Script = Record<string, string[]>;

/** Runs a queue whose handler pushes `script[event]` while handling `event`; returns the handled order. */
function run(initial: string[], script: Script): { order: string[]; maxDepth: number } {
  const order: string[] = [];
  let depth = 0;
  let maxDepth = 0;
  const queue: EventQueue<string> = new EventQueue((event) => {
    depth++;
    maxDepth = Math.max(maxDepth, depth);
    order.push(`start ${event}`);
    for (const next of script[event] ?? []) queue.push(next);
    order.push(`end ${event}`);
    depth--;
  });
  for (const event of initial) queue.push(event);
  return { order, maxDepth };
}

/** Only the handled order, start/end pairs collapsed (valid when the handler is never re-entered). */
const flat = (order: string[]): string[] => order.filter((e) => e.startsWith('start ')).map((e) => e.slice(6));

describe('EventQueue', () => {
  const matrix: Array<{ name: string; initial: string[]; script: Script; expected: string[] }> = [
    { name: 'a single event', initial: ['a'], script: {}, expected: ['a'] },
    { name: 'events pushed from outside, in order', initial: ['a', 'b', 'c'], script: {}, expected: ['a', 'b', 'c'] },
    { name: 'one follow-up after the current one', initial: ['a'], script: { a: ['b'] }, expected: ['a', 'b'] },
    { name: 'several follow-ups keep their push order', initial: ['a'], script: { a: ['b', 'c', 'd'] }, expected: ['a', 'b', 'c', 'd'] },
    {
      name: 'follow-ups of follow-ups go to the back (breadth first)',
      initial: ['a'],
      script: { a: ['b', 'c'], b: ['d', 'e'], c: ['f'] },
      expected: ['a', 'b', 'c', 'd', 'e', 'f'],
    },
    {
      name: 'a chain',
      initial: ['a'],
      script: { a: ['b'], b: ['c'], c: ['d'] },
      expected: ['a', 'b', 'c', 'd'],
    },
    {
      name: 'the same event value pushed twice is handled twice',
      initial: ['a'],
      script: { a: ['x', 'x'] },
      expected: ['a', 'x', 'x'],
    },
  ];

  it.each(matrix)('$name', ({ initial, script, expected }) => {
    const { order, maxDepth } = run(initial, script);
    expect(maxDepth).toBe(1);
    expect(flat(order)).toEqual(expected);
    // Each event ends before the next starts.
    expect(order).toEqual(expected.flatMap((e) => [`start ${e}`, `end ${e}`]));
  });

  it('handles a push synchronously when idle', () => {
    const seen: number[] = [];
    const queue = new EventQueue<number>((n) => seen.push(n));
    queue.push(1);
    expect(seen).toEqual([1]);
    queue.push(2);
    expect(seen).toEqual([1, 2]);
  });

  it('drains a long self-feeding chain without growing the stack', () => {
    let count = 0;
    const queue: EventQueue<number> = new EventQueue((n) => {
      count++;
      if (n > 0) queue.push(n - 1);
    });
    queue.push(100_000);
    expect(count).toBe(100_001);
  });

  it('works with SupervisorEvent values', () => {
    const types: string[] = [];
    const queue: EventQueue<SupervisorEvent> = new EventQueue((event) => {
      types.push(`${event.type}:${'key' in event ? event.key : event.source}`);
      if (event.type === 'worker-exit') queue.push({ type: 'restart-due', key: event.key });
      if (event.type === 'stop') queue.push({ type: 'kill-due', key: 1 });
    });
    queue.push({ type: 'worker-exit', key: 1, code: 1, signal: null });
    queue.push({ type: 'stop', source: 'SIGTERM' });
    expect(types).toEqual(['worker-exit:1', 'restart-due:1', 'stop:SIGTERM', 'kill-due:1']);
  });

  it('after a handler throws, the queue is usable again and the next push drains what was left', () => {
    const seen: string[] = [];
    const queue: EventQueue<string> = new EventQueue((event) => {
      seen.push(event);
      if (event === 'a') {
        queue.push('b');
        throw new Error('handler failed');
      }
    });
    expect(() => queue.push('a')).toThrow('handler failed');
    // 'b' stayed queued; it is handled (before 'c') on the next push.
    expect(seen).toEqual(['a']);
    queue.push('c');
    expect(seen).toEqual(['a', 'b', 'c']);
  });
});
