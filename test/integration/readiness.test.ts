// Issue 11: readyWhen. Workers without a server, workers that listen twice, and --wait-ready,
// through the real binary: start -d, status, rolling reloads under load.
import { afterEach, describe, expect, it } from 'vitest';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort } from '../helpers/http.ts';
import { startLoad } from '../helpers/load.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

interface Status {
  supervisors: Array<{
    apps: Array<{ name: string; state: string; readyWhen: string; workers: Array<{ pid: number; state: string; up: boolean; addresses: string[]; notUpReason: string | null }> }>;
  }>;
}

let home: CliHome | undefined;
let project: TmpProject | undefined;
let workerPids: number[] = [];

afterEach(async () => {
  await home?.dispose(workerPids);
  home = undefined;
  workerPids = [];
  await cleanupAll();
  project?.dispose();
  project = undefined;
});

async function status(): Promise<Status['supervisors'][number]['apps'][number]> {
  const result = await home!.nsup(['status', '--json']);
  expect(result.exitCode, result.stderr).toBe(0);
  const app = (JSON.parse(result.stdout) as Status).supervisors[0]!.apps[0]!;
  workerPids.push(...app.workers.map((w) => w.pid).filter(Boolean));
  return app;
}

const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';

async function reload(nsup: Nsup, n: number): Promise<LogLine> {
  nsup.proc.kill('SIGHUP');
  const ends = await nsup.waitForCount(isReloadEnd, n, `reload ${n} to end`, 30_000);
  return ends[n - 1]!;
}

describe('readyWhen', () => {
  it("'online': a worker without a server is up once it runs; start -d exits 0 and a reload replaces every worker", async () => {
    home = cliHome();
    project = tmpProject();
    const script = project.fixture('ticker.js');
    const started = await home.nsup(['start', script, '-d', '-n', 'ticker', '-i', '2', '--ready-when', 'online']);
    expect(started.exitCode, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/ticker\s+running\s+2\/2 up/);
    const before = await status();
    expect(before.readyWhen).toBe('online');
    expect(before.workers.every((w) => w.up && w.state === 'online')).toBe(true);
    const reloaded = await home.nsup(['reload', 'ticker']);
    expect(reloaded.exitCode, reloaded.stderr).toBe(0);
    const after = await status();
    expect(after.workers).toHaveLength(2);
    expect(after.workers.every((w) => w.up)).toBe(true);
    const oldPids = before.workers.map((w) => w.pid);
    expect(after.workers.filter((w) => oldPids.includes(w.pid))).toEqual([]);
    expect(await waitGone(oldPids)).toEqual([]);
    expect((await home.nsup(['stop', 'all'])).exitCode).toBe(0);
  });

  it("a worker without a server and the default readyWhen: status and the log say what to set", async () => {
    home = cliHome();
    project = tmpProject();
    const script = project.fixture('ticker.js');
    // start -d waits for listenTimeout, then says it is not up and leaves the daemon running.
    const started = await home.nsup(['start', script, '-d', '-n', 'ticker', '-i', '1', '--listen-timeout', '1500ms']);
    expect(started.exitCode).toBe(1);
    // The time is when status was taken: listenTimeout (1.5 s) and however late a loaded machine is.
    expect(started.stdout).toMatch(/worker 0 \(pid \d+\) not up: online, has not listened after \d+\.\ds: a worker without a server needs readyWhen 'online'/);
    const app = await status();
    expect(app.workers[0]!.up).toBe(false);
    expect(app.workers[0]!.notUpReason).toMatch(/^online, has not listened after [\d.]+s: a worker without a server needs readyWhen 'online'$/);
    const logs = await home.nsup(['logs', 'ticker', '--lines', '50']);
    // Logged once, when listenTimeout (1.5 s) has passed; a loaded machine's timer may fire a little late.
    expect(logs.stdout).toMatch(/is not up: online, has not listened after \d+\.\ds: a worker without a server needs readyWhen 'online'/);
    expect(logs.stdout.match(/is not up: online/g)).toHaveLength(1);
    expect((await home.nsup(['stop', 'all'])).exitCode).toBe(0);
  });

  it("'listening': a worker that listens on an admin port first is up only on the public port too; 3 reloads under load lose nothing", async () => {
    project = tmpProject();
    const [port, adminPort] = [await freePort(), await freePort()];
    project.fixture('two-ports.js');
    const config = project.write(
      'supervisor.config.mjs',
      `export default { apps: [{ name: 'web', script: './two-ports.js', instances: 2, env: { PORT: '${port}', ADMIN_PORT: '${adminPort}' } }] };`,
    );
    const nsup = startNsup(['start', '-c', config]);
    // At the first start nothing tells nsup about the public port yet (`listen` would): wait for it here.
    await nsup.waitForCount((e) => e.event === 'worker.listening' && e.address === `:${port}`, 2, 'two workers on the public port');
    const load = startLoad(port, { connections: 10 });
    for (let n = 1; n <= 3; n++) {
      const end = await reload(nsup, n);
      expect(end.event, JSON.stringify(end)).toBe('reload.done');
    }
    const result = await load.stop();
    expect(result.failed, JSON.stringify(result)).toBe(0);
    expect(result.ok).toBeGreaterThan(100);
    // Each new worker was up only once it listened on both ports.
    const ups = nsup.events.filter((e) => e.event === 'worker.up' && Number(e.gen) > 1);
    expect(ups).toHaveLength(6);
    for (const up of ups) expect([...(up.addresses as string[])].sort()).toEqual([`:${adminPort}`, `:${port}`].sort());
    expect(await stopNsup(nsup)).toBe(0);
    expect(nsup.events.filter((e) => e.event === 'supervisor.stopped')).toHaveLength(1);
  });

  it("'ready' (--wait-ready): under Connection: close load through reloads, no response comes from a worker before its ready()", async () => {
    project = tmpProject();
    const port = await freePort();
    const script = project.fixture('ready-late.js');
    const nsup = startNsup(['start', script, '-n', 'web', '-i', '2', '--wait-ready', '--env', `PORT=${port}`]);
    await nsup.waitForCount((e) => e.event === 'worker.up', 2, 'two workers ready');
    const load = startLoad(port, { connections: 10, close: true });
    for (let n = 1; n <= 3; n++) expect((await reload(nsup, n)).event).toBe('reload.done');
    const result = await load.stop();
    // The app answers 503 until it called ready(): a single one means a connection reached it early.
    expect(result.non2xx, JSON.stringify(result)).toBe(0);
    expect(result.failed, JSON.stringify(result)).toBe(0);
    expect(result.ok).toBeGreaterThan(100);
    expect(await stopNsup(nsup)).toBe(0);
  });

  it('the start line names nsup\'s version and Node\'s', async () => {
    project = tmpProject();
    const port = await freePort();
    const nsup = startNsup(['start', project.fixture('http-ok.js'), '-i', '1', '--env', `PORT=${port}`]);
    const start = await nsup.waitFor((e) => e.event === 'supervisor.start', 'the start line');
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    expect(start.version).toBe(version);
    expect(start.msg).toMatch(new RegExp(`^nsup ${version.replace(/\./g, '\\.')} on Node v\\d+\\.\\d+\\.\\d+ \\(pid \\d+\\)`));
    await nsup.waitFor((e) => e.event === 'worker.up', 'up');
    expect(await stopNsup(nsup)).toBe(0);
    expect(nsup.events.filter((e) => e.event === 'supervisor.stopped')).toHaveLength(1);
  });
});
