// Issue 16: scheduled jobs run once per tick for the whole app, in their own processes, across
// reloads and crashes; overlap, timeouts, stop, missed ticks while down, `nsup run`, status, metrics.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, get } from '../helpers/http.ts';
import { BIN, ROOT, cleanupAll, isAlive, sleep, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { pollUntil } from '../helpers/until.ts';
import { tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

let project: TmpProject | undefined;
let home: CliHome | undefined;
const homes: string[] = [];
afterEach(async () => {
  await cleanupAll();
  await home?.dispose();
  home = undefined;
  project?.dispose();
  project = undefined;
  for (const dir of homes.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';
const done = (job: string) => (e: LogLine) => e.event === 'job.done' && e.job === job;

/** A project running reloadable.js (`instances` workers) with these jobs (JS source of the array) and app keys. */
async function setup(jobs: string, opts: { instances?: number; extra?: string; top?: string } = {}): Promise<{ config: string; port: number; file: (name: string) => string }> {
  const p = (project = tmpProject());
  const port = await freePort();
  p.fixture('reloadable.js');
  p.fixture('append-tick.js');
  p.fixture('slow-job.js');
  const config = p.write(
    'supervisor.config.mjs',
    `const dir = ${JSON.stringify(p.dir)};
export default { apps: [{ name: 'web', script: './reloadable.js', instances: ${opts.instances ?? 2}, env: { PORT: '${port}' }, killTimeout: '2s' ${opts.extra ?? ''},
  jobs: ${jobs} }] ${opts.top ?? ''} };`,
  );
  return { config, port, file: (name) => p.path(name) };
}

/** The file's lines split in words (a missing file: none). */
function lines(path: string): string[][] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((line) => line.split(' '));
}

/** A tick as ms since the epoch, from an ISO string or a number (events and NSUP_JOB_TICK). */
const ms = (tick: unknown) => (typeof tick === 'number' ? tick : Date.parse(String(tick)));

describe('scheduled jobs', () => {
  it('runs an every-second job exactly once per tick across two rolling reloads and a worker crash, in its own process', async () => {
    const { config, file } = await setup(`[{ name: 'tick', schedule: '* * * * * *', script: './append-tick.js', env: { TICKS_FILE: dir + '/ticks' } }]`);
    const nsup = startNsup(['start', '-c', config]);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    await nsup.waitForCount(done('tick'), 2, 'two ticks');
    nsup.proc.kill('SIGHUP');
    expect((await nsup.waitForCount(isReloadEnd, 1, 'reload 1', 30_000))[0]!.event).toBe('reload.done');
    const victim = nsup.listeningPids()[0]!;
    process.kill(victim, 'SIGKILL');
    await nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === victim, 'the crash observed');
    await nsup.waitForCount(listening, 5, 'the crashed worker replaced');
    nsup.proc.kill('SIGHUP');
    expect((await nsup.waitForCount(isReloadEnd, 2, 'reload 2', 30_000))[1]!.event).toBe('reload.done');
    const before = nsup.events.filter(done('tick')).length;
    await nsup.waitForCount(done('tick'), before + 2, 'two more ticks');
    expect(await stopNsup(nsup)).toBe(0);

    const written = lines(file('ticks'));
    const ticks = written.map(([tick]) => ms(tick));
    // The ticks span both reloads and the crash.
    const at = (event: string, n: number) => Date.parse(String(nsup.events.filter((e) => e.event === event)[n]!.time));
    expect(Math.min(...ticks)).toBeLessThan(at('reload.start', 0));
    expect(Math.max(...ticks)).toBeGreaterThan(at('reload.done', 1));
    // Once each: a scheduler per worker (or per generation) would write every tick twice.
    expect(new Set(ticks).size).toBe(ticks.length);
    // None dropped: every second from the first to the last tick ran, or was skipped and logged.
    const skipped = new Set(nsup.events.filter((e) => e.event === 'job.skipped' && e.job === 'tick').flatMap((e) => (e.ticks as unknown[]).map(ms)));
    const sorted = [...ticks].sort((a, b) => a - b);
    for (let t = sorted[0]!; t <= sorted.at(-1)!; t += 1000) expect(ticks.includes(t) || skipped.has(t), `tick ${new Date(t).toISOString()}`).toBe(true);
    // Each line is one scheduled run's job.done, and the runs are not workers.
    // (The stop may SIGTERM a run between its write and its exit: a line whose run did not exit 0.)
    const runs = nsup.events.filter((e) => done('tick')(e) && e.trigger === 'schedule');
    const ran = new Set(runs.map((e) => ms(e.tick)));
    for (const t of ticks) expect(ran.has(t), `a job.done for ${new Date(t).toISOString()}`).toBe(true);
    for (const e of runs.filter((r) => r.code === 0)) expect(ticks).toContain(ms(e.tick));
    const workers = new Set(nsup.workerPids());
    for (const [, pid, trigger] of written) {
      expect(workers.has(Number(pid))).toBe(false);
      expect(trigger).toBe('schedule');
    }
    // Its output went through the log as records naming the job.
    expect(nsup.records.some((r) => r.job === 'tick' && String(r.msg).startsWith('tick '))).toBe(true);
  });

  it("overlap 'skip': a job slower than its interval never runs twice at once, and the skipped ticks are logged", async () => {
    const { config, file } = await setup(`[{ name: 'slow', schedule: '* * * * * *', script: './slow-job.js', env: { JOB_FILE: dir + '/slow', JOB_MS: '2500' } }]`, { instances: 1 });
    const nsup = startNsup(['start', '-c', config]);
    await nsup.waitForCount(done('slow'), 2, 'two runs', 20_000);
    await nsup.waitFor((e) => e.event === 'job.skipped' && e.job === 'slow' && e.reason === 'overlap', 'a skipped tick');
    expect(await stopNsup(nsup)).toBe(0);
    const spans = intervals(file('slow'));
    expect(spans.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start, JSON.stringify(spans)).toBeGreaterThanOrEqual(spans[i - 1]!.end);
  });

  it("overlap 'queue': the due ticks run one after the other, in tick order", async () => {
    const { config, file } = await setup(`[{ name: 'slow', schedule: '* * * * * *', script: './slow-job.js', overlap: 'queue', env: { JOB_FILE: dir + '/slow', JOB_MS: '1500' } }]`, { instances: 1 });
    const nsup = startNsup(['start', '-c', config]);
    await nsup.waitForCount(done('slow'), 3, 'three runs', 20_000);
    expect(await stopNsup(nsup)).toBe(0);
    const spans = intervals(file('slow'));
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
      expect(spans[i]!.tick).toBeGreaterThan(spans[i - 1]!.tick);
    }
    // Queued, not skipped: consecutive runs are for consecutive seconds.
    expect(spans[1]!.tick - spans[0]!.tick).toBe(1000);
    expect(nsup.events.filter((e) => e.event === 'job.skipped' && e.reason === 'overlap')).toEqual([]);
  });

  it('a job past its timeout gets SIGTERM, then SIGKILL after killTimeout', async () => {
    const { config, file } = await setup(
      `[{ name: 'stubborn', schedule: '*/5 * * * * *', script: './slow-job.js', timeout: '1s', env: { JOB_FILE: dir + '/stubborn', JOB_MS: '20000', IGNORE_TERM: '1' } },
        { name: 'polite', schedule: '*/5 * * * * *', script: './slow-job.js', timeout: '1s', env: { JOB_FILE: dir + '/polite', JOB_MS: '20000' } }]`,
      { instances: 1, extra: `, killTimeout: '300ms'` },
    );
    const nsup = startNsup(['start', '-c', config]);
    const stubborn = await nsup.waitFor(done('stubborn'), 'the stubborn job ended', 20_000);
    const polite = await nsup.waitFor(done('polite'), 'the polite job ended', 20_000);
    expect(await stopNsup(nsup)).toBe(0);
    expect(stubborn).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    expect(polite).toMatchObject({ timedOut: true });
    expect(polite.signal === 'SIGTERM' || polite.code === 143, JSON.stringify(polite)).toBe(true);
    // timeout 1s (not less: a job's Node must have booted and installed its SIGTERM listener by
    // then, which took over 500 ms on a loaded CI machine), then killTimeout 300ms.
    expect(stubborn.durationMs as number).toBeLessThan(2000);
    expect(stubborn.durationMs as number).toBeGreaterThanOrEqual(1300);
    expect(polite.durationMs as number).toBeLessThan(2000);
    expect(nsup.events.some((e) => e.event === 'job.timeout' && e.job === 'stubborn')).toBe(true);
    expect(nsup.events.some((e) => e.event === 'job.kill' && e.job === 'stubborn')).toBe(true);
    const pids = [...lines(file('stubborn')), ...lines(file('polite'))].filter((l) => l[0] === 'start').map((l) => Number(l[2]));
    expect(lines(file('stubborn')).some((l) => l[0] === 'got')).toBe(true);
    expect(await waitGone(pids, 2000)).toEqual([]);
  });

  it('a stop SIGTERMs a running job and waits for it; a restart after downtime reports the missed ticks and replays none', async () => {
    const { config, file } = await setup(
      `[{ name: 'long', schedule: '0 0 * * * *', script: './slow-job.js', env: { JOB_FILE: dir + '/long', JOB_MS: '30000' } },
        { name: 'tick', schedule: '* * * * * *', script: './append-tick.js', env: { TICKS_FILE: dir + '/ticks' } }]`,
      { instances: 1 },
    );
    const nsupHome = mkdtempSync(join(tmpdir(), 'nsup-home-'));
    homes.push(nsupHome);
    const first = startNsup(['start', '-c', config], { env: { NSUP_HOME: nsupHome } });
    await first.waitForCount(done('tick'), 2, 'two ticks');
    // A long run in progress (by nsup run: the hourly schedule would not come during the test).
    const run = execRun(nsupHome, ['run', 'web', 'long']);
    await pollUntil(() => lines(file('long')).some((l) => l[0] === 'start'), 'the long job started');
    const longPid = Number(lines(file('long')).find((l) => l[0] === 'start')![2]);
    const stoppedAt = Date.now();
    expect(await stopNsup(first)).toBe(0);
    expect(lines(file('long')).some((l) => l[0] === 'got' && Number(l[2]) === longPid)).toBe(true);
    expect(isAlive(longPid)).toBe(false);
    expect(Date.now() - stoppedAt).toBeLessThan(2000 + 5000);
    expect((await run).exitCode).toBe(1);
    const lastBefore = Math.max(...lines(file('ticks')).map(([t]) => ms(t)));

    // Down for 3 seconds: a gap of ticks that must be reported, not run.
    await sleep(3000);
    const restartedAt = Date.now();
    const second = startNsup(['start', '-c', config], { env: { NSUP_HOME: nsupHome } });
    const missed = await second.waitFor((e) => e.event === 'job.missed' && e.job === 'tick', 'the missed report');
    expect(missed.reason).toBe('down');
    expect(ms(missed.from)).toBeGreaterThan(lastBefore);
    expect(ms(missed.to)).toBeGreaterThanOrEqual(ms(missed.from));
    expect(ms(missed.to)).toBeLessThan(restartedAt + 1000);
    await second.waitForCount(done('tick'), 2, 'two ticks after the restart');
    expect(await stopNsup(second)).toBe(0);
    // A replay would run the gap's ticks at the start; the first tick of this run comes after it started.
    const gap = lines(file('ticks')).map(([t]) => ms(t)).filter((t) => t > lastBefore && t < restartedAt);
    expect(gap).toEqual([]);
    expect(second.events.filter((e) => e.event === 'job.missed' && e.job === 'tick')).toHaveLength(1);
  });

  it('nsup run: the result, exit codes 0/1/2, refused while running; status and /metrics show the jobs', async () => {
    const { config } = await setup(
      `[{ name: 'backup', schedule: '0 0 4 * * *', timezone: 'Europe/Paris', script: './append-tick.js', env: { TICKS_FILE: dir + '/ticks' } },
        { name: 'broken', schedule: '0 0 4 * * *', script: './append-tick.js', env: { TICKS_FILE: dir + '/ticks', EXIT_CODE: '3' } },
        { name: 'slow', schedule: '0 0 4 * * *', script: './slow-job.js', env: { JOB_FILE: dir + '/slow', JOB_MS: '3000' } }]`,
      { instances: 1, top: ', metrics: { port: 0 }' },
    );
    home = cliHome();
    const nsup = startNsup(['start', '-c', config], { env: { NSUP_HOME: home.home } });
    await nsup.waitFor(listening, 'listening');
    const metricsPort = (await nsup.waitFor((e) => e.event === 'metrics.listening', 'metrics server')).port as number;

    const ok = await home.nsup(['run', 'web', 'backup']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^web\/backup: exit 0 in \d+(ms|\.\ds) \(nsup run\)\n {2}tick manual from web\/backup$/);
    const json = await home.nsup(['run', 'web', 'backup', '--json']);
    expect(json.exitCode, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ job: 'backup', trigger: 'manual', tick: null, code: 0, ok: true, timedOut: false });

    const failed = await home.nsup(['run', 'web', 'broken']);
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toMatch(/web\/broken: exit(ed with code)? 3 in /);
    expect(failed.stderr).toContain('failing on purpose with 3');

    // nsup logs --job: the output of that job's runs, nothing else (no worker's, no event).
    const backupLogs = await home.nsup(['logs', 'web', '--job', 'backup', '-n', '100']);
    expect(backupLogs.exitCode, backupLogs.stderr).toBe(0);
    const shown = backupLogs.stdout.trim().split('\n');
    expect(shown, backupLogs.stdout).toHaveLength(2);
    for (const line of shown) expect(line).toMatch(/ web:backup pid=\d+ out \| tick manual from web\/backup$/);
    const brokenLogs = await home.nsup(['logs', 'web', '--job', 'broken', '--stream', 'err']);
    expect(brokenLogs.stdout).toMatch(/ web:broken pid=\d+ err \| .*failing on purpose with 3/);
    expect(brokenLogs.stdout).not.toContain('backup');

    const unknown = await home.nsup(['run', 'web', 'nope']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/no job 'nope'.*backup, broken, slow/);
    expect((await home.nsup(['run', 'nope', 'backup'])).exitCode).toBe(1);

    const slow = execRun(home.home, ['run', 'web', 'slow']);
    await pollUntil(() => lines(join(project!.dir, 'slow')).length > 0, 'the slow job started');
    const refused = await home.nsup(['run', 'web', 'slow']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/running.*overlap is 'skip'/);
    const status = await home.nsup(['status', '--json']);
    const app = (JSON.parse(status.stdout) as { supervisors: Array<{ apps: Array<{ jobs: Array<Record<string, any>> }> }> }).supervisors[0]!.apps[0]!;
    const [backup, broken, running] = app.jobs;
    expect(backup).toMatchObject({ name: 'backup', schedule: '0 0 4 * * *', timezone: 'Europe/Paris', lastRun: { code: 0, ok: true, trigger: 'manual' }, runs: { ok: 2, failed: 0, timedOut: 0 } });
    expect(Date.parse(backup!.nextRun)).toBeGreaterThan(Date.now());
    expect(broken).toMatchObject({ lastRun: { code: 3, ok: false }, runs: { failed: 1 } });
    expect(running!.running).toMatchObject({ trigger: 'manual', tick: null });
    const table = await home.nsup(['status']);
    expect(table.stdout).toMatch(/ {2}job backup {2}0 0 4 \* \* \* \(Europe\/Paris\) {2}next in .* {2}last ok: exit 0 in/);
    expect(table.stdout).toMatch(/ {2}job slow {2}0 0 4 \* \* \* {2}running \d/);
    expect((await slow).exitCode).toBe(0);

    const metrics = (await get(metricsPort, '/metrics')).body;
    expect(metrics).toContain('nsup_job_runs_total{app="web",job="backup",result="ok"} 2');
    expect(metrics).toContain('nsup_job_runs_total{app="web",job="broken",result="failed"} 1');
    expect(metrics).toContain('nsup_job_last_success{app="web",job="broken"} 0');
    expect(metrics).toMatch(/nsup_job_next_run_timestamp_seconds\{app="web",job="backup"\} \d+/);
    expect(metrics).toContain('nsup_job_running{app="web",job="slow"} 0');
    expect(await stopNsup(nsup)).toBe(0);
  });
});

/** Each run of slow-job.js: its tick (ms; a manual run: NaN), start and end times. */
function intervals(path: string): Array<{ tick: number; start: number; end: number }> {
  const rows = lines(path);
  return rows
    .filter((l) => l[0] === 'start')
    .map(([, tick, pid, t0]) => ({ tick: ms(tick), start: Number(t0), end: Number(rows.find((l) => l[0] === 'end' && l[2] === pid)?.[3] ?? Infinity) }))
    .filter((span) => span.end !== Infinity)
    .sort((a, b) => a.start - b.start);
}

/** `nsup <args>` against a runtime dir, in the CLI's own process (started now, awaited later). */
async function execRun(nsupHome: string, args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const result = await execa(process.execPath, [BIN, ...args], { cwd: ROOT, env: { NO_COLOR: '1', NSUP_HOME: nsupHome }, reject: false, timeout: 60_000, stdin: 'ignore' });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}
