// What the tests of issue 13 share: nsup's lines read back as records, the streams.js fixture
// (a line on each stream once it listens), and bounded polls of files nothing announces.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLine, type LogRecord } from '../../src/log/record.ts';
import { freePort } from './http.ts';
import type { Nsup } from './run-nsup.ts';
import { pollUntil } from './until.ts';

export { pollUntil };
import { FIXTURES, tmpProject, type TmpProject } from './tmp-project.ts';
import { cliHome, type CliHome } from './daemon.ts';

/** The fixture that writes `stdout of worker <slot> pid <pid>` and the same on stderr once it listens. */
export const STREAMS = join(FIXTURES, 'streams.js');

/** A text line's timestamp: ISO 8601 in UTC, then a space. */
export const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

/** `start <streams.js> -n <name> -i <n>` on a free port, plus `extra`. */
export async function streamsArgs(name: string, instances: number, extra: string[] = []): Promise<string[]> {
  return ['start', STREAMS, '-n', name, '-i', String(instances), '--env', `PORT=${await freePort()}`, ...extra];
}

/** Wait until every worker slot wrote its `stdout of worker <slot>` and `stderr of worker <slot>` lines. */
export async function bothLines(nsup: Nsup, slots: number): Promise<void> {
  for (let slot = 0; slot < slots; slot++) {
    for (const stream of ['stdout', 'stderr']) await nsup.waitForOutput((l) => l.includes(`${stream} of worker ${slot} pid `), `${stream} line of worker ${slot}`);
  }
}

/** Every line of a file nsup wrote, as records; fails on a line that is not one. */
export function recordsOf(lines: string[]): LogRecord[] {
  return lines.map((line) => {
    const record = parseLine(line);
    if (!record) throw new Error(`not a log record: ${line.slice(0, 300)}`);
    return record;
  });
}

/** The non-empty lines of a text. */
export const linesOf = (text: string): string[] => text.split('\n').filter((l) => l !== '');

/** Poll (bounded) until `check` holds on a file's text. */
export function fileUntil(path: string, check: (text: string) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return pollUntil(() => check(existsSync(path) ? readFileSync(path, 'utf8') : ''), `${what} (${path})`, timeoutMs);
}


/** Runtime dirs and projects a test file makes; dispose() (in afterEach) removes them all. */
export function scratch(): { newProject(): TmpProject; newHome(): CliHome; dispose(): Promise<void> } {
  const homes: CliHome[] = [];
  const projects: TmpProject[] = [];
  return {
    newProject: () => {
      const project = tmpProject();
      projects.push(project);
      return project;
    },
    newHome: () => {
      const home = cliHome();
      homes.push(home);
      return home;
    },
    dispose: async () => {
      for (const home of homes.splice(0)) await home.dispose();
      for (const project of projects.splice(0)) project.dispose();
    },
  };
}
