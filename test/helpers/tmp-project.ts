// Temporary project folders with a config file and fixture apps, removed after the test.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));

/** A temp folder; `write` adds files, `dispose` removes it. */
export interface TmpProject {
  dir: string;
  path(name: string): string;
  write(name: string, content: string): string;
  /** Copy a fixture app from test/fixtures/apps into the project. */
  fixture(name: string): string;
  dispose(): void;
}

/** Make a temp project folder. */
export function tmpProject(): TmpProject {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-test-'));
  return {
    dir,
    path: (name) => join(dir, name),
    write: (name, content) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    },
    fixture: (name) => {
      const path = join(dir, name);
      cpSync(join(FIXTURES, name), path);
      return path;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
