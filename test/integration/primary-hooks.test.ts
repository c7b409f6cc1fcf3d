// Issue 12: primary hooks, code an app runs in nsup's primary (`primary: './cluster-setup.js'`)
// for libraries with a primary half. They load before the first fork, keep answering across
// rolling reloads without being re-run, are disposed once on stop, and their failures (at load or
// later, in a cluster listener) are logged and shown in status but never stop supervising.
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, get, getJson } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

let home: CliHome | null = null;
let project: TmpProject | null = null;

afterEach(async () => {
  await cleanupAll();
  await home?.dispose();
  project?.dispose();
  home = null;
  project = null;
});

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const isReady = (e: LogLine) => e.event === 'worker.state' && e.to === 'ready';
const hookError = (e: LogLine) => e.event === 'primary.hook-error';
const reloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';

interface HookStatus {
  file: string;
  state: string;
  error: string | null;
  failures: number;
}
interface AppStatus {
  name: string;
  workers: Array<{ pid: number; up: boolean; state: string }>;
  primaryHooks: HookStatus[];
}

/** A project with `files` copied from the fixtures and a config of one app `web` (`app` is spliced in). */
function setup(files: string[], app: string): string {
  project = tmpProject();
  for (const file of files) project.fixture(file);
  return project.write('supervisor.config.mjs', `export default { apps: [{ name: 'web', ${app} }] };`);
}

/** Run nsup under a runtime dir the CLI can reach (status --json). */
function startWithHome(config: string): Nsup {
  home = cliHome();
  return startNsup(['start', '-c', config], { env: { NSUP_HOME: home.home } });
}

async function appStatus(): Promise<AppStatus> {
  const result = await home!.nsup(['status', '--json']);
  expect(result.exitCode, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { supervisors: Array<{ apps: AppStatus[] }> }).supervisors[0]!.apps.find((a) => a.name === 'web')!;
}

/** `n` requests on fresh connections; what each worker pid answered. */
async function answersByPid(port: number, n: number): Promise<Map<number, { primary: number; to: number } | null>> {
  const seen = new Map<number, { primary: number; to: number } | null>();
  for (let i = 0; i < n; i++) {
    const body = await getJson<{ pid: number; answer: { primary: number; to: number } | null }>(port);
    seen.set(body.pid, body.answer);
  }
  return seen;
}

describe('primary hooks', () => {
  it('a hook answers the workers of -i 2 over cluster messages, survives a rolling reload without re-running, and is disposed once on stop', async () => {
    const port = await freePort();
    const config = setup(['asks-primary.js', 'hook-answer.js'], `script: './asks-primary.js', instances: 2, primary: './hook-answer.js', env: { PORT: '${port}', DISPOSED_FILE: 'disposed.txt' }`);
    const disposed = project!.path('disposed.txt');
    const nsup = startNsup(['start', '-c', config], { cwd: project!.dir });
    await nsup.waitForCount(listening, 2, 'two listening workers');
    // Loaded before the first fork, with the hook's own log line on nsup's logger.
    const loaded = nsup.events.findIndex((e) => e.event === 'primary.hook-loaded');
    const firstFork = nsup.events.findIndex((e) => e.event === 'worker.state' && e.to === 'starting');
    expect(loaded).toBeGreaterThanOrEqual(0);
    expect(loaded).toBeLessThan(firstFork);
    expect(nsup.events.find((e) => e.event === 'fixture.hook-setup')).toMatchObject({ hook: project!.path('hook-answer.js'), app: 'web', msg: "answering web's 2 workers" });

    const before = await answersByPid(port, 20);
    expect(before.size).toBe(2);
    for (const [pid, answer] of before) expect(answer).toEqual({ primary: nsup.proc.pid, to: pid });

    nsup.proc.kill('SIGHUP');
    expect((await nsup.waitFor(reloadEnd, 'reload end', 30_000)).event).toBe('reload.done');
    const after = await answersByPid(port, 20);
    expect(after.size).toBe(2);
    for (const pid of after.keys()) expect(before.has(pid)).toBe(false);
    for (const [pid, answer] of after) expect(answer).toEqual({ primary: nsup.proc.pid, to: pid });
    expect(nsup.events.filter((e) => e.event === 'fixture.hook-setup')).toHaveLength(1);
    expect(existsSync(disposed)).toBe(false);

    expect(await stopNsup(nsup)).toBe(0);
    expect(readFileSync(disposed, 'utf8')).toBe(`disposed in ${nsup.proc.pid}\n`);
    expect(nsup.events.filter(hookError)).toEqual([]);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });

  it('loads a CommonJS hook and a TypeScript one (object with setup), in order, before any worker exists', async () => {
    const port = await freePort();
    const config = setup(['http-ok.js', 'hook-cjs.cjs', 'hook-typed.ts'], `script: './http-ok.js', instances: 1, primary: ['./hook-cjs.cjs', './hook-typed.ts'], env: { PORT: '${port}' }`);
    const nsup = startWithHome(config);
    await nsup.waitFor(listening, 'listening worker');
    const setups = nsup.events.filter((e) => e.event === 'fixture.hook-setup');
    expect(setups.map((e) => e.kind)).toEqual(['cjs', 'ts']);
    expect(setups[0]).toMatchObject({ isPrimary: true, hook: project!.path('hook-cjs.cjs') });
    expect(setups[1]).toMatchObject({ workersBefore: 0, hook: project!.path('hook-typed.ts') });
    expect((await get(port)).status).toBe(200);
    const status = await appStatus();
    expect(status.primaryHooks).toEqual([
      { file: project!.path('hook-cjs.cjs'), state: 'loaded', error: null, failures: 0 },
      { file: project!.path('hook-typed.ts'), state: 'loaded', error: null, failures: 0 },
    ]);
    expect(await stopNsup(nsup)).toBe(0);
    expect(nsup.events.filter((e) => e.event === 'fixture.hook-dispose')).toHaveLength(1);
  });

  it('a hook that throws at load (or cannot be imported, or rejects later) is logged with its file and stack, shows failed in status, and the app still serves', async () => {
    const port = await freePort();
    const config = setup(
      ['http-ok.js', 'hook-throws.js'],
      `script: './http-ok.js', instances: 2, primary: ['./hook-throws.js', './hook-missing-dep.js', './hook-syntax.js', './hook-no-setup.js', './hook-late.js'], env: { PORT: '${port}' }`,
    );
    project!.write('hook-missing-dep.js', `import 'no-such-package-for-nsup';\nexport default function setup() {}\n`);
    project!.write('hook-syntax.js', `export default function setup( {\n`);
    project!.write('hook-no-setup.js', `export const setup = 42;\n`);
    // Loads fine, then a promise of it rejects (a lost connection nobody awaited).
    project!.write('hook-late.js', `export default function setup() {\n  setTimeout(async () => {\n    throw new Error('redis connection lost');\n  }, 50);\n}\n`);
    const nsup = startWithHome(config);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    expect((await get(port)).status).toBe(200);
    await nsup.waitFor((e) => hookError(e) && e.stage === 'unhandledRejection', 'the late rejection');

    const errors = nsup.events.filter(hookError);
    expect(errors.map((e) => [e.file, e.stage])).toEqual([
      [project!.path('hook-throws.js'), 'setup'],
      [project!.path('hook-missing-dep.js'), 'import'],
      [project!.path('hook-syntax.js'), 'import'],
      [project!.path('hook-no-setup.js'), 'setup'],
      [project!.path('hook-late.js'), 'unhandledRejection'],
    ]);
    expect(errors[0]).toMatchObject({ app: 'web', error: "TypeError: Cannot read properties of undefined (reading 'host')" });
    expect(errors[0]!.stack).toContain(`${project!.path('hook-throws.js')}:4:`);
    expect(errors[0]!.msg).toMatch(/^web: primary hook \.\/hook-throws\.js failed \(in its setup\): TypeError: .*the app's workers start without it/);
    expect(errors[1]!.error).toMatch(/Cannot find (package|module) 'no-such-package-for-nsup'/);
    expect(errors[2]!.error).toMatch(/^SyntaxError: /);
    expect(errors[3]!.error).toMatch(/has no default export; it must export a setup function/);
    expect(nsup.events.filter((e) => e.event === 'supervisor.error')).toEqual([]);

    const status = await appStatus();
    expect(status.primaryHooks.map((h) => [h.state, h.failures])).toEqual([['failed', 1], ['failed', 1], ['failed', 1], ['failed', 1], ['loaded', 1]]);
    expect(status.primaryHooks[4]!.error).toBe('Error: redis connection lost');
    expect(status.primaryHooks[0]).toEqual({ file: project!.path('hook-throws.js'), state: 'failed', error: "TypeError: Cannot read properties of undefined (reading 'host')", failures: 1 });
    const table = await home!.nsup(['status']);
    expect(table.stdout).toContain("  primary hook ./hook-throws.js failed: TypeError: Cannot read properties of undefined (reading 'host')");
    expect(table.stdout).toContain('  primary hook ./hook-syntax.js failed: SyntaxError: ');
    expect(table.stdout).toContain('  primary hook ./hook-late.js: 1 error, last: Error: redis connection lost');
    expect(await stopNsup(nsup)).toBe(0);
  });

  it("a hook whose cluster 'message' listener throws on every message costs nsup nothing: no give-up, ready() counts, reloads work", async () => {
    const port = await freePort();
    const config = setup(['ticks-primary.js', 'hook-throws-on-message.js'], `script: './ticks-primary.js', instances: 2, readyWhen: 'ready', primary: './hook-throws-on-message.js', env: { PORT: '${port}' }`);
    const file = project!.path('hook-throws-on-message.js');
    const nsup = startWithHome(config);
    // ready() is an IPC message too: the hook's listener throws on it, nsup still sees it.
    await nsup.waitForCount(isReady, 2, 'two ready workers');
    // 2 workers × 20 messages a second: a line a second at most, each with the count left out.
    const lines = await nsup.waitForCount(hookError, 4, 'four hook error lines', 10_000);
    for (const line of lines) expect(line).toMatchObject({ file, stage: 'uncaughtException', error: expect.stringMatching(/^RangeError: cannot handle /) });
    expect(lines[0]!.stack).toContain(file);
    expect(lines.slice(1).every((line) => (line.suppressed as number) > 5)).toBe(true);
    for (let i = 0; i < 10; i++) expect((await get(port)).status).toBe(200);

    nsup.proc.kill('SIGHUP');
    expect((await nsup.waitFor(reloadEnd, 'reload end', 30_000)).event).toBe('reload.done');
    expect((await get(port)).status).toBe(200);

    const status = await appStatus();
    expect(status.workers.filter((w) => w.up && w.state === 'ready')).toHaveLength(2);
    const [hook] = status.primaryHooks;
    expect(hook).toMatchObject({ file, state: 'loaded', error: expect.stringMatching(/^RangeError: cannot handle /) });
    expect(hook!.failures).toBeGreaterThan(100);
    const table = await home!.nsup(['status']);
    expect(table.stdout).toMatch(/ {2}primary hook \.\/hook-throws-on-message\.js: \d+ errors, last: RangeError: cannot handle /);
    // Nothing counted towards nsup's "5 uncaught errors in 10 s" budget.
    expect(nsup.events.filter((e) => e.event === 'supervisor.error')).toEqual([]);
    expect(await stopNsup(nsup)).toBe(0);
  });

  it('a changed `primary` in the config file takes a restart: a reload warns and keeps the running hooks', async () => {
    const port = await freePort();
    const config = setup(['asks-primary.js', 'hook-answer.js', 'hook-cjs.cjs'], `script: './asks-primary.js', instances: 1, primary: './hook-answer.js', env: { PORT: '${port}' }`);
    const nsup = startNsup(['start', '-c', config]);
    await nsup.waitFor(listening, 'listening worker');
    project!.write('supervisor.config.mjs', `export default { apps: [{ name: 'web', script: './asks-primary.js', instances: 1, primary: ['./hook-answer.js', './hook-cjs.cjs'], env: { PORT: '${port}' } }] };`);
    nsup.proc.kill('SIGHUP');
    expect((await nsup.waitFor(reloadEnd, 'reload end', 30_000)).event).toBe('reload.done');
    const warning = nsup.events.find((e) => e.event === 'primary.hooks-changed');
    expect(warning).toMatchObject({ app: 'web', loaded: [project!.path('hook-answer.js')], configured: [project!.path('hook-answer.js'), project!.path('hook-cjs.cjs')] });
    expect(warning!.msg).toMatch(/restart nsup to load the new ones$/);
    expect(nsup.events.filter((e) => e.event === 'fixture.hook-setup').map((e) => e.kind)).toEqual([undefined]);
    expect((await answersByPid(port, 2)).size).toBe(1);
    expect(await stopNsup(nsup)).toBe(0);
  });
});

describe('prom-client recipe: AggregatorRegistry as a primary hook', () => {
  it("sums both workers' counters on the hook's port, alongside nsup's own /metrics, nothing double-counted or lost", async () => {
    const port = await freePort();
    const clusterPort = await freePort();
    project = tmpProject();
    // The fixtures run from test/fixtures/apps, where prom-client resolves.
    const config = project.write(
      'supervisor.config.mjs',
      `export default { metrics: { port: 0 }, apps: [{ name: 'api', script: ${JSON.stringify(`${FIXTURES}prom-counter.js`)}, instances: 2, primary: ${JSON.stringify(`${FIXTURES}hook-prom-aggregator.js`)}, env: { PORT: '${port}', CLUSTER_METRICS_PORT: '${clusterPort}' } }] };`,
    );
    const nsup = startNsup(['start', '-c', config]);
    const metrics = (await nsup.waitFor((e) => e.event === 'metrics.listening', 'metrics server')).port as number;
    expect((await nsup.waitFor((e) => e.event === 'cluster-metrics.listening', 'the hook serving')).port).toBe(clusterPort);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const pids = new Set<string>();
    for (let i = 0; i < 40; i++) pids.add((await get(port)).body);
    expect(pids.size).toBe(2);

    // Both aggregators at once, several times over: each request id answered by both workers once.
    const scrapes = await Promise.all(Array.from({ length: 8 }, (_, i) => get(i % 2 === 0 ? clusterPort : metrics, '/metrics')));
    for (const scrape of scrapes) {
      expect(scrape.status, scrape.body).toBe(200);
      expect(scrape.body).toMatch(/^fixture_requests_total 40$/m);
    }
    for (let i = 0; i < 10; i++) await get(port);
    expect((await get(clusterPort, '/metrics')).body).toMatch(/^fixture_requests_total 50$/m);
    expect((await get(metrics, '/metrics')).body).toMatch(/^fixture_requests_total 50$/m);
    expect(nsup.events.filter((e) => e.event === 'primary.hook-error' || e.event === 'supervisor.error')).toEqual([]);

    // Its setup returned the dispose that closes its server.
    expect(nsup.events.find((e) => e.event === 'primary.hook-loaded')).toMatchObject({ app: 'api', dispose: true });
    expect(await stopNsup(nsup)).toBe(0);
  });
});
