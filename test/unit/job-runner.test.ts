// runner.ts: real job processes. Env and cwd, the output tail and the records, signals to the
// process group, a failed start, and the leftovers reaped before settle() resolves.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResolvedApp, ResolvedJob } from '../../src/config/define.ts';
import { resolveConfig } from '../../src/config/schema.ts';
import type { JobLedger } from '../../src/jobs/ledger.ts';
import type { JobRun } from '../../src/jobs/model.ts';
import { JOB_OUTPUT_LINES, processJobRunner, type JobProcess } from '../../src/jobs/runner.ts';
import type { Output } from '../../src/log/logger.ts';
import type { LogRecord } from '../../src/log/record.ts';
import { TOKEN_VAR, TreeReaper } from '../../src/worker/descendants.ts';
import { running } from '../helpers/processes.ts';
import { changed, pollUntil, until } from '../helpers/until.ts';

const APPS = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));
const JOBS = fileURLToPath(new URL('../fixtures/jobs/', import.meta.url));
const BASE = resolveConfig({ apps: [{ name: 'web', script: './http-ok.js', killTimeout: '1s' }] }, { file: null, baseDir: APPS }).apps[0]!;
const TICK = Date.UTC(2026, 0, 1, 4, 0, 0);

const dirs: string[] = [];
const alive = new Set<number>();
afterEach(() => {
  for (const pid of alive) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  alive.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-job-runner-'));
  dirs.push(dir);
  return dir;
}

interface Ended {
  code: number | null;
  signal: string | null;
  output: string[];
  spawnError?: string;
}

/** A runner with a recording output, logger and ledger; start() a fixture job and get its end as a promise. */
function harness() {
  const records: LogRecord[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const notes: Array<[string, string, number]> = [];
  const output = {
    record: (r: LogRecord) => {
      records.push(r);
      changed();
    },
    whenWritable: () => null,
  } as unknown as Output;
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const ledger: JobLedger = { lastTicks: () => new Map(), note: (app, job, tick) => void notes.push([app, job.name, tick]) };
  const runner = processJobRunner({ output, logger, ledger });
  let id = 0;
  const start = (script: string, over: { job?: Partial<ResolvedJob>; app?: Partial<ResolvedApp>; trigger?: 'schedule' | 'manual' } = {}) => {
    const config: ResolvedJob = { name: 'backup', schedule: '0 4 * * *', timezone: null, script: join(JOBS, script), args: [], nodeArgs: [], env: {}, timeoutMs: null, overlap: 'skip', ...over.job };
    const trigger = over.trigger ?? 'schedule';
    const run: JobRun = { id: ++id, job: config.name, tick: trigger === 'schedule' ? TICK : null, trigger, config, startedAt: Date.now(), pid: null, termAt: null, termWhy: null, killed: false, exit: null, waiters: [] };
    let proc!: JobProcess;
    const ended = new Promise<Ended>((resolve) => {
      proc = runner.start({ app: { ...BASE, ...over.app } as ResolvedApp, run }, { exit: (code, signal, out, spawnError) => resolve({ code, signal, output: out, ...(spawnError !== undefined ? { spawnError } : {}) }) });
    });
    if (proc.pid !== null) alive.add(proc.pid);
    return { proc, ended };
  };
  const lines = (pid: number | null) => records.filter((r) => r.pid === pid).map((r) => r.msg);
  return { runner, records, logs, notes, start, lines };
}

describe('processJobRunner', () => {
  it("runs `node [nodeArgs] script [args]` in the app's cwd with the app's env, the job's above it, and NSUP_* facts; its own process group", async () => {
    const h = harness();
    const cwd = tmp();
    const prior = process.env.NOTIFY_SOCKET;
    process.env.NOTIFY_SOCKET = '/run/fake-notify';
    try {
      const { proc, ended } = h.start('print-env.js', {
        app: { cwd, env: { TEST_APP: 'app', TEST_BOTH: 'app' } },
        job: { args: ['--flag', 'two words'], nodeArgs: ['--no-warnings'], env: { TEST_JOB: 'job', TEST_BOTH: 'job' } },
      });
      const end = await ended;
      expect(end).toMatchObject({ code: 0, signal: null });
      const seen = JSON.parse(h.lines(proc.pid)[0]!) as { cwd: string; argv: string[]; execArgv: string[]; env: Record<string, string>; pgid: number; pid: number };
      expect(seen.cwd).toBe(cwd);
      expect(seen.argv).toEqual(['--flag', 'two words']);
      expect(seen.execArgv).toEqual(['--no-warnings']);
      expect(seen.env).toMatchObject({ TEST_APP: 'app', TEST_JOB: 'job', TEST_BOTH: 'job', NSUP_APP: 'web', NSUP_JOB: 'backup', NSUP_JOB_TRIGGER: 'schedule', NSUP_JOB_TICK: new Date(TICK).toISOString() });
      expect(seen.env.NSUP_WORKER_TOKEN).toMatch(/^\d+\.job\.\d+$/);
      expect(seen.env).not.toHaveProperty('NOTIFY_SOCKET');
      expect(seen.env).not.toHaveProperty('NSUP_WORKER_ID');
      expect(seen.pgid).toBe(seen.pid);
      expect(h.records[0]).toMatchObject({ app: 'web', job: 'backup', pid: proc.pid, stream: 'out' });
      expect(h.notes).toEqual([['web', 'backup', TICK]]);
    } finally {
      if (prior === undefined) delete process.env.NOTIFY_SOCKET;
      else process.env.NOTIFY_SOCKET = prior;
    }
    // A manual run: no tick in its env, nothing noted in the ledger.
    const manual = h.start('print-env.js', { trigger: 'manual' });
    await manual.ended;
    const env = (JSON.parse(h.lines(manual.proc.pid)[0]!) as { env: Record<string, string> }).env;
    expect(env.NSUP_JOB_TRIGGER).toBe('manual');
    expect(env).not.toHaveProperty('NSUP_JOB_TICK');
    expect(h.notes).toHaveLength(1);
  });

  it(`keeps exactly the last ${JOB_OUTPUT_LINES} lines (each cut to 500 characters); every line is a record with job`, async () => {
    const h = harness();
    const { proc, ended } = h.start('many-lines.js', { job: { env: { EXIT_CODE: '3' } } });
    const end = await ended;
    expect(end.code).toBe(3);
    expect(end.output).toHaveLength(JOB_OUTPUT_LINES);
    expect(end.output.slice(0, -1)).toEqual(Array.from({ length: JOB_OUTPUT_LINES - 1 }, (_, i) => `line ${50 - JOB_OUTPUT_LINES + 2 + i}`));
    expect(end.output.at(-1)).toBe(`${'x'.repeat(500)}…`);
    expect(h.lines(proc.pid)).toHaveLength(51);
    expect(h.lines(proc.pid).at(-1)).toHaveLength(2000);
    const mixed = h.start('many-lines.js', { job: { env: { MIXED: '1' } } });
    await mixed.ended;
    const streams = new Set(h.records.filter((r) => r.pid === mixed.proc.pid).map((r) => `${r.job}/${r.stream}`));
    expect(streams).toEqual(new Set(['backup/out', 'backup/err']));
  });

  it('SIGTERM reaches the job (which may ignore it); SIGKILL ends it', async () => {
    const h = harness();
    const { proc, ended } = h.start('ignore-term.js');
    await until(() => h.lines(proc.pid).includes('ready'), 'the job ready', 5000);
    proc.kill('SIGTERM');
    await until(() => h.lines(proc.pid).includes('got SIGTERM, ignoring it'), 'the job to get SIGTERM', 5000);
    expect(running(proc.pid!)).toBe(true);
    proc.kill('SIGKILL');
    expect(await ended).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(running(proc.pid!)).toBe(false);
  });

  it('signals go to the whole process group: a grandchild in it gets SIGTERM while the job ignores it', async () => {
    const h = harness();
    const { proc, ended } = h.start('spawns-child.js', { job: { env: { IGNORE_TERM: '1' } } });
    await until(() => h.lines(proc.pid).some((l) => l.startsWith('ready ')), 'the job ready', 5000);
    const grandchild = Number(h.lines(proc.pid).find((l) => l.startsWith('ready '))!.split(' ')[1]);
    alive.add(grandchild);
    expect(running(grandchild)).toBe(true);
    proc.kill('SIGTERM');
    await pollUntil(() => !running(grandchild), 'the grandchild gone after SIGTERM to the group', 5000);
    expect(running(proc.pid!)).toBe(true);
    proc.kill('SIGKILL');
    await ended;
  });

  it('a grandchild that left the group is reaped after the job exits (job.leftovers), before settle() resolves', async () => {
    const h = harness();
    const { proc, ended } = h.start('spawns-child.js', { job: { env: { ESCAPE: '1' } } });
    await until(() => h.lines(proc.pid).some((l) => l.startsWith('ready ')), 'the job ready', 5000);
    const grandchild = Number(h.lines(proc.pid).find((l) => l.startsWith('ready '))!.split(' ')[1]);
    alive.add(grandchild);
    proc.kill('SIGTERM');
    expect(await ended).toMatchObject({ code: 0 });
    await h.runner.settle();
    expect(running(grandchild)).toBe(false);
    expect(h.logs.filter((l) => l.event === 'job.leftovers')).toEqual([expect.objectContaining({ app: 'web', job: 'backup', pid: proc.pid, signal: 'SIGTERM', pids: [grandchild] })]);
  });

  it("reaping a run's leftovers never takes a worker's process: the spawner's tokens are not the runner's", async () => {
    const h = harness();
    // A worker as clusterSpawner starts it: its own TreeReaper's first token (`<pid>.1`) in its env.
    const worker = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', env: { ...process.env, [TOKEN_VAR]: new TreeReaper().token() } });
    alive.add(worker.pid!);
    const gone = new Promise((resolve) => worker.once('exit', resolve));
    const { ended } = h.start('print-env.js');
    await ended;
    await h.runner.settle();
    expect(running(worker.pid!)).toBe(true);
    expect(h.logs.filter((l) => l.event === 'job.leftovers')).toEqual([]);
    worker.kill('SIGKILL');
    await gone;
  });

  it('a failed start (the cwd is gone) ends with spawnError and no pid', async () => {
    const h = harness();
    const { proc, ended } = h.start('print-env.js', { app: { cwd: join(tmp(), 'missing') } });
    expect(proc.pid).toBeNull();
    const end = await ended;
    expect(end).toMatchObject({ code: null, signal: null, output: [] });
    expect(end.spawnError).toMatch(/ENOENT/);
    proc.kill('SIGTERM');
    await h.runner.settle();
  });
});
