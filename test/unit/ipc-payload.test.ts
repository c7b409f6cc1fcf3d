// Issue 5: data that cannot cross the IPC channel fails at the sender, naming the topic and the fix.
import { describe, expect, it } from 'vitest';
import { MAX_DATA_BYTES, checkPayload } from '../../src/ipc/payload.ts';

function refusal(data: unknown, mode: 'json' | 'advanced'): Error & { code?: string } {
  try {
    checkPayload(data, "send('t')", mode);
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected checkPayload to throw');
}

const circular = () => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};

describe('json serialization', () => {
  it('accepts plain data, undefined and strings up to the limit', () => {
    for (const data of [undefined, null, 1, 'x', true, { a: [1, 'b', null], d: new Date(0) }, Buffer.from('hi'), 'x'.repeat(MAX_DATA_BYTES - 2)]) {
      expect(() => checkPayload(data, "send('t')", 'json')).not.toThrow();
    }
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['a function', () => 1, /^send\('t'\): the data is a function, which cannot be sent between processes/],
    ['a nested function', { user: { cb() {} } }, /property 'cb' is a function/],
    ['a symbol property', { s: Symbol('x') }, /property 's' is a symbol/],
    ['a BigInt', 10n, /the data is a BigInt, which JSON cannot encode\. Convert it \(String\(n\)\) or set serialization: 'advanced'/],
    ['a nested BigInt', { n: 10n }, /property 'n' is a BigInt/],
    ['a Map', { m: new Map() }, /property 'm' is a Map, which JSON turns into \{\}\. Convert it \(Object\.fromEntries\(map\)\) or set serialization: 'advanced'/],
    ['a Set', new Set([1]), /the data is a Set/],
    ['a cycle', circular(), /circular reference \(property 'self' closes the circle\), which JSON cannot encode/],
  ];
  for (const [name, data, message] of cases) {
    it(`refuses ${name} with a TypeError`, () => {
      const error = refusal(data, 'json');
      expect(error).toBeInstanceOf(TypeError);
      expect(error.code).toBe('NSUP_ERR_IPC_UNSENDABLE');
      expect(error.message).toMatch(message);
    });
  }

  it('refuses data over 1 MiB of JSON with a RangeError', () => {
    const error = refusal({ rows: Array.from({ length: 60_000 }, (_, i) => ({ id: i, name: `row ${i}` })) }, 'json');
    expect(error).toBeInstanceOf(RangeError);
    expect(error.code).toBe('NSUP_ERR_IPC_TOO_LARGE');
    expect(error.message).toMatch(/^send\('t'\): the data is 1\.\d MiB of JSON, over the 1 MiB limit of one message\. Send a reference instead/);
    expect(refusal('x'.repeat(MAX_DATA_BYTES), 'json')).toBeInstanceOf(RangeError);
  });
});

describe('advanced serialization', () => {
  it('accepts Map, Set, BigInt, Buffer, Date and cycles', () => {
    for (const data of [new Map([[1, 2]]), new Set([1]), 10n, { n: 10n }, Buffer.from('hi'), new Date(0), circular()]) {
      expect(() => checkPayload(data, "send('t')", 'advanced')).not.toThrow();
    }
  });

  it('refuses functions with a TypeError', () => {
    for (const data of [() => 1, { cb() {} }]) {
      const error = refusal(data, 'advanced');
      expect(error).toBeInstanceOf(TypeError);
      expect(error.code).toBe('NSUP_ERR_IPC_UNSENDABLE');
      expect(error.message).toMatch(/^send\('t'\): .*(function|could not be cloned)/);
    }
  });

  it('refuses a serialization over 1 MiB with a RangeError', () => {
    const error = refusal({ blob: Buffer.alloc(MAX_DATA_BYTES + 10) }, 'advanced');
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toMatch(/1 MiB serialized, over the 1 MiB limit/);
  });
});

describe('small values (checked by a bounded walk, without encoding)', () => {
  class Point {
    x = 1;
  }
  const matrix: Array<[string, unknown, 'ok' | 'TypeError', 'ok' | 'TypeError']> = [
    // name, value, json, advanced
    ['plain object', { i: 1, text: 'hello', ok: true, none: null, u: undefined }, 'ok', 'ok'],
    ['null prototype', Object.assign(Object.create(null), { a: 1 }), 'ok', 'ok'],
    ['nested arrays', [[1, [2, [3]]], { a: [{ b: 'c' }] }], 'ok', 'ok'],
    ['a Date inside', { at: new Date(0) }, 'ok', 'ok'],
    ['a class instance', new Point(), 'ok', 'ok'],
    ['a typed array', { bytes: new Uint8Array([1, 2]) }, 'ok', 'ok'],
    ['a function deep in an array', { a: [1, { cb() {} }] }, 'TypeError', 'TypeError'],
    ['a Map inside', { m: new Map([[1, { a: 1 }]]) }, 'TypeError', 'ok'],
    ['a Set inside', [new Set([1])], 'TypeError', 'ok'],
    ['a small BigInt', { n: 1n }, 'TypeError', 'ok'],
    ['a huge BigInt', { n: 2n ** 200n }, 'TypeError', 'ok'],
    ['a symbol value', [Symbol('s')], 'TypeError', 'TypeError'],
  ];
  for (const [name, value, json, advanced] of matrix) {
    it(`${name}: json ${json}, advanced ${advanced}`, () => {
      for (const [mode, expected] of [['json', json], ['advanced', advanced]] as const) {
        const run = () => checkPayload(value, "send('t')", mode);
        if (expected === 'ok') expect(run).not.toThrow();
        else expect(run).toThrow(TypeError);
      }
    });
  }

  it('a wide object past the walk budget is measured exactly', () => {
    const wide = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, 'v'.repeat(2000)]));
    expect(refusal(wide, 'json')).toBeInstanceOf(RangeError);
    expect(() => checkPayload(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i])), "send('t')", 'json')).not.toThrow();
  });
});
