// The last tick each job ran for, kept in the runtime dir (`<dir>/jobs/<app>.json`), so that a
// start can report the ticks missed while nsup was down: once, never replayed (no catch-up). The
// runtime dir is often a tmpfs (XDG_RUNTIME_DIR): after a reboot there is nothing to report, and
// NSUP_HOME on a disk keeps it. Best effort: a write that fails is logged once and forgotten.
import type { ResolvedJob } from '../config/define.ts';
import type { Logger } from '../log/logger.ts';
import { ledgerKey } from './model.ts';
// (not ES imports of the builtins: see cli/main.ts)
const { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = process.getBuiltinModule('node:fs');
const { join } = process.getBuiltinModule('node:path');

/** Where scheduled runs are noted, and what the last start left. */
export interface JobLedger {
  /** The last tick per job (key: model.ts ledgerKey), as the files were when first asked. */
  lastTicks(): Map<string, number>;
  /** A scheduled run of `job` started for `tick`. */
  note(app: string, job: ResolvedJob, tick: number): void;
}

/** One app's file: per job name, the schedule it ran on and its last tick (a changed schedule replaces the entry). */
interface LedgerFile {
  version: 1;
  app: string;
  jobs: Record<string, { schedule: string; timezone: string | null; tick: number }>;
}

/** The ledger in `<runtimeDir>/jobs/`: one 0600 file per app, written whole to a temporary file and renamed over. */
export function fileLedger(runtimeDir: string, logger: Logger): JobLedger {
  const dir = join(runtimeDir, 'jobs');
  let files: Map<string, LedgerFile> | null = null;
  let failed = false;
  const load = (): Map<string, LedgerFile> => (files ??= readAll(dir, logger));
  return {
    lastTicks() {
      const ticks = new Map<string, number>();
      for (const file of load().values()) {
        for (const [name, entry] of Object.entries(file.jobs)) ticks.set(ledgerKey(file.app, { name, schedule: entry.schedule, timezone: entry.timezone }), entry.tick);
      }
      return ticks;
    },
    note(app, job, tick) {
      const all = load();
      let file = all.get(app);
      if (!file) all.set(app, (file = { version: 1, app, jobs: {} }));
      file.jobs[job.name] = { schedule: job.schedule, timezone: job.timezone, tick };
      const path = join(dir, fileName(app));
      const temp = `${path}.${process.pid}.tmp`;
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(temp, `${JSON.stringify(file)}\n`, { mode: 0o600 });
        renameSync(temp, path);
      } catch (err) {
        rmSync(temp, { force: true });
        if (failed) return;
        failed = true;
        const message = err instanceof Error ? err.message : String(err);
        logger.warn(
          { event: 'job.ledger-failed', app, path, err: message },
          `${app}: could not note the last job tick in ${path} (${message}); ticks missed while nsup is down will not be reported. Check the runtime directory's permissions and free space.`,
        );
      }
    },
  };
}

/** `<app>.json`, the name made safe for a file name. */
function fileName(app: string): string {
  return `${encodeURIComponent(app)}.json`;
}

function readAll(dir: string, logger: Logger): Map<string, LedgerFile> {
  const files = new Map<string, LedgerFile>();
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return files;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const file = parseFile(readFileSync(path, 'utf8'));
      files.set(file.app, file);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      logger.warn(
        { event: 'job.ledger-unreadable', path, err: message },
        `could not read the job ledger ${path} (${message}); ticks missed while nsup was down are not reported for its app. It is rewritten at the next run.`,
      );
    }
  }
  return files;
}

function parseFile(text: string): LedgerFile {
  const value = JSON.parse(text) as Partial<LedgerFile> | null;
  if (typeof value !== 'object' || value === null || value.version !== 1 || typeof value.app !== 'string' || typeof value.jobs !== 'object' || value.jobs === null) {
    throw new Error('not a version 1 ledger');
  }
  const jobs: LedgerFile['jobs'] = {};
  for (const [name, entry] of Object.entries(value.jobs)) {
    if (typeof entry?.schedule !== 'string' || !Number.isFinite(entry.tick) || !(entry.timezone === null || typeof entry.timezone === 'string')) continue;
    jobs[name] = { schedule: entry.schedule, timezone: entry.timezone, tick: entry.tick };
  }
  return { version: 1, app: value.app, jobs };
}
