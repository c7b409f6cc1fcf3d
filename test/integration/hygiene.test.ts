// Test hygiene: the cleanup helpers leave nothing behind, not even a worker whose event loop is
// blocked (it never notices its IPC channel close when the primary dies) or a child process a
// worker spawned in a session of its own.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, get } from '../helpers/http.ts';
import { descendants, running } from '../helpers/processes.ts';
import { cleanupAll, sleep, startNsup, stopNsup, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

let project: TmpProject | undefined;
let home: CliHome | undefined;

afterEach(async () => {
  await cleanupAll();
  await home?.dispose();
  home = undefined;
  project?.dispose();
  project = undefined;
});

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

/** nsup start with spinner.js on 2 workers, both listening; CHILD_WORKER picks the one that spawns `sleep`. */
async function start(env: { CHILD_WORKER?: string } = {}, flags: string[] = []): Promise<{ nsup: Nsup; port: number }> {
  project = tmpProject();
  const script = project.fixture('spinner.js');
  const port = await freePort();
  const vars = Object.entries({ PORT: String(port), ...env }).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  const nsup = startNsup(['start', script, '-n', 'hygiene', '-i', '2', ...vars, ...flags]);
  await nsup.waitForCount(listening, 2, 'two listening workers');
  return { nsup, port };
}

/** Block the event loop of the worker that gets GET /spin; resolves with its pid once it spins. */
async function spin(nsup: Nsup, port: number): Promise<number> {
  // Never answered: it fails (caught) when cleanup kills the worker.
  void get(port, '/spin', { timeoutMs: 30_000 }).catch(() => null);
  return printed(nsup, 'spinning');
}

/** The pid a worker printed as `<word> <pid>` (e.g. `spinning 123`). */
async function printed(nsup: Nsup, word: string): Promise<number> {
  const re = new RegExp(`^${word} (\\d+)$`);
  const line = await nsup.waitForOutput((l) => re.test(l), `a worker's "${word} <pid>" line`);
  return Number(re.exec(line)![1]);
}

/**
 * None of these is running any more. A zombie counts as gone: it is dead, and an orphan's zombie
 * is reaped by PID 1 on its own schedule (seen taking ~10 s in this sandbox).
 */
function expectAllGone(pids: number[]): void {
  expect(pids.filter(running)).toEqual([]);
}

describe('cleanup leaves nothing behind', () => {
  it('cleanupAll kills the primary and a worker whose event loop is blocked', async () => {
    const { nsup, port } = await start();
    const spinning = await spin(nsup, port);
    const workers = nsup.workerPids();
    expect(workers).toHaveLength(2);
    expect(workers).toContain(spinning);
    const all = [nsup.proc.pid!, ...workers];
    expect(all.filter(running)).toEqual(all);
    await cleanupAll();
    expectAllGone(all);
  });

  it('cleanupAll kills a child process a worker spawned in its own session', async () => {
    const { nsup } = await start({ CHILD_WORKER: '1' });
    const grandchild = await printed(nsup, 'child');
    const all = [nsup.proc.pid!, ...nsup.workerPids(), grandchild];
    expect(all.filter(running)).toEqual(all);
    // Below the supervisor now; re-parented (to PID 1) once its worker dies.
    expect(descendants(nsup.proc.pid!)).toContain(grandchild);
    await cleanupAll();
    expectAllGone(all);
  });

  it('stopNsup, when SIGTERM does not finish within its bound, kills the whole tree', async () => {
    // The spinning worker never runs its SIGTERM/shutdown handler; the long kill timeout keeps
    // the primary waiting for it, so the stop outlasts the 1 s bound given below.
    const { nsup, port } = await start({ CHILD_WORKER: '1' }, ['--kill-timeout', '60s']);
    await spin(nsup, port);
    const grandchild = await printed(nsup, 'child');
    const all = [nsup.proc.pid!, ...nsup.workerPids(), grandchild];
    expect(all.filter(running)).toEqual(all);
    await expect(stopNsup(nsup, 1000)).rejects.toThrow(/did not exit within the bound after SIGTERM$/);
    expectAllGone(all);
  });

  it('dispose() of a CLI home kills each daemon, its blocked worker and its workers\' children', async () => {
    home = cliHome();
    project = tmpProject();
    const script = project.fixture('spinner.js');
    const port = await freePort();
    const started = await home.nsup(['start', script, '-d', '-n', 'hygiene', '-i', '2', '--env', `PORT=${port}`, '--env', 'CHILD_WORKER=1']);
    expect(started.exitCode, started.stderr).toBe(0);
    const [daemon] = home.daemonPids();
    void get(port, '/spin', { timeoutMs: 30_000 }).catch(() => null);
    // The daemon writes worker lines to <app>.log and no event announces one: poll the file (bounded).
    const log = join(home.home, 'hygiene.log');
    const found = (re: RegExp) => (existsSync(log) ? re.exec(readFileSync(log, 'utf8'))?.[1] : undefined);
    const deadline = Date.now() + 10_000;
    while ((found(/hygiene:\d+ [^|]*\| spinning (\d+)/) === undefined || found(/hygiene:1 [^|]*\| child (\d+)/) === undefined) && Date.now() < deadline) await sleep(25);
    const spinning = Number(found(/hygiene:\d+ [^|]*\| spinning (\d+)/));
    const grandchild = Number(found(/hygiene:1 [^|]*\| child (\d+)/));
    expect(spinning).toBeGreaterThan(0);
    expect(grandchild).toBeGreaterThan(0);
    // The log names the hard cases; the /proc walk adds the other worker.
    const all = [...new Set([daemon!, spinning, grandchild, ...descendants(daemon!)])];
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(all.filter(running)).toEqual(all);
    // Nothing is passed in: dispose() must find the blocked worker and the grandchild itself.
    await home.dispose();
    home = undefined;
    expectAllGone(all);
  });
});
