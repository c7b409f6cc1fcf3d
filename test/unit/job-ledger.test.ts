// ledger.ts: the last tick per job in the runtime dir, read back by the next start (the
// missed-while-down report); a corrupt or unwritable ledger costs the report, never the start.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResolvedJob } from '../../src/config/define.ts';
import { fileLedger } from '../../src/jobs/ledger.ts';
import { ledgerKey } from '../../src/jobs/model.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-ledger-'));
  dirs.push(dir);
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  return { dir, logs, logger };
}

const job = (over: Partial<ResolvedJob> = {}): ResolvedJob => ({ name: 'backup', schedule: '0 4 * * *', timezone: null, script: '/x.js', args: [], nodeArgs: [], env: {}, timeoutMs: null, overlap: 'skip', ...over });

describe('fileLedger', () => {
  it('note → a new ledger on the same dir reads the same last ticks (one 0600 file per app, no temp left)', () => {
    const { dir, logger, logs } = setup();
    const a = fileLedger(dir, logger);
    expect(a.lastTicks()).toEqual(new Map());
    a.note('web', job(), 1000);
    a.note('web', job(), 2000);
    a.note('web', job({ name: 'sync', schedule: '*/5 * * * * *', timezone: 'UTC' }), 3000);
    a.note('api/v2', job(), 4000);
    const b = fileLedger(dir, logger);
    expect(b.lastTicks()).toEqual(
      new Map([
        [ledgerKey('web', job()), 2000],
        [ledgerKey('web', job({ name: 'sync', schedule: '*/5 * * * * *', timezone: 'UTC' })), 3000],
        [ledgerKey('api/v2', job()), 4000],
      ]),
    );
    expect(readdirSync(join(dir, 'jobs')).sort()).toEqual(['api%2Fv2.json', 'web.json']);
    expect(statSync(join(dir, 'jobs', 'web.json')).mode & 0o777).toBe(0o600);
    expect(logs).toEqual([]);
  });

  it('a changed schedule replaces the job\'s entry (the old key is gone: nothing to report for it)', () => {
    const { dir, logger } = setup();
    const a = fileLedger(dir, logger);
    a.note('web', job(), 1000);
    a.note('web', job({ schedule: '0 5 * * *' }), 2000);
    expect(fileLedger(dir, logger).lastTicks()).toEqual(new Map([[ledgerKey('web', job({ schedule: '0 5 * * *' })), 2000]]));
  });

  it('a corrupt file → nothing for that app, one warning, and the others still read; the next note rewrites it', () => {
    const { dir, logger, logs } = setup();
    fileLedger(dir, logger).note('api', job(), 5000);
    writeFileSync(join(dir, 'jobs', 'web.json'), '{"version":1,"app":"web","jobs":');
    const ledger = fileLedger(dir, logger);
    expect(ledger.lastTicks()).toEqual(new Map([[ledgerKey('api', job()), 5000]]));
    expect(ledger.lastTicks().size).toBe(1);
    expect(logs.filter((l) => l.event === 'job.ledger-unreadable')).toHaveLength(1);
    ledger.note('web', job(), 6000);
    expect(fileLedger(dir, logger).lastTicks().get(ledgerKey('web', job()))).toBe(6000);
  });

  it('an unwritable dir → one job.ledger-failed warning, however many notes, and no throw', () => {
    const { dir, logger, logs } = setup();
    mkdirSync(join(dir, 'jobs'));
    chmodSync(join(dir, 'jobs'), 0o500);
    try {
      const ledger = fileLedger(dir, logger);
      for (let i = 0; i < 3; i++) expect(() => ledger.note('web', job(), i)).not.toThrow();
      // root ignores the mode: then the note simply works.
      const failed = logs.filter((l) => l.event === 'job.ledger-failed');
      expect(failed.length).toBe(process.getuid?.() === 0 ? 0 : 1);
    } finally {
      chmodSync(join(dir, 'jobs'), 0o700);
    }
  });
});
