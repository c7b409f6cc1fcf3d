// Every error code in src/errors.ts is documented in docs/errors.md, with its exit code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error registry', () => {
  const classes = Object.values(errors).filter(
    (value): value is new (...args: never[]) => errors.NsupError => typeof value === 'function' && value.prototype instanceof errors.NsupError,
  );

  it('lists every error class code in ERROR_CODES', () => {
    const codes = classes.map((cls) => (new (cls as unknown as new (a: string, b: string) => errors.NsupError)('x', 'y')).code).sort();
    expect(codes).toEqual([...errors.ERROR_CODES].sort());
  });

  for (const cls of classes) {
    const error = new (cls as unknown as new (a: string, b: string) => errors.NsupError)('x', 'y');
    it(`documents ${error.code} with exit code ${error.exitCode}`, () => {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${error.code}\``));
      expect(row, `docs/errors.md has no row for ${error.code}`).toBeDefined();
      expect(row!.split('|')[2]!.trim()).toBe(String(error.exitCode));
    });
  }
});
