// Issue 16: `singleton: true`: over reloads and crashes two workers of the app never run at once
// (checked from outside: the worker's own pid file, and the primary's children sampled from /proc),
// and scale is refused.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, get } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
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
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';

/** The primary's child processes now (every thread's children: node:cluster forks from any). */
function children(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) => {
      try {
        return readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

describe('singleton: true', () => {
  it.skipIf(!existsSync('/proc/self/task'))('never runs two workers at once over 20 reloads and kills; scale is refused', { timeout: 120_000 }, async () => {
    const p = (project = tmpProject());
    const port = await freePort();
    p.fixture('singleton-worker.js');
    const config = p.write(
      'supervisor.config.mjs',
      `export default { apps: [{ name: 'web', script: './singleton-worker.js', singleton: true, killTimeout: '3s', env: { PORT: '${port}', HOLDER_DIR: ${JSON.stringify(p.dir)} } }] };`,
    );
    home = cliHome();
    const nsup = startNsup(['start', '-c', config], { env: { NSUP_HOME: home.home } });
    await nsup.waitFor(listening, 'the worker listening');
    const primary = nsup.proc.pid!;

    // Sample the primary's children every 10 ms for the whole test.
    let maxLive = 0;
    const sampler = setInterval(() => (maxLive = Math.max(maxLive, children(primary).length)), 10);
    try {
      let reloads = 0;
      for (let round = 1; round <= 20; round++) {
        const up = nsup.events.filter(listening).length;
        if (round % 2 === 1) {
          nsup.proc.kill('SIGHUP');
          const end = (await nsup.waitForCount(isReloadEnd, ++reloads, `reload ${reloads}`, 30_000))[reloads - 1]!;
          expect(end.event, JSON.stringify(end)).toBe('reload.done');
        } else {
          const [current] = nsup.listeningPids();
          process.kill(current!, 'SIGKILL');
        }
        await nsup.waitForCount(listening, up + 1, `round ${round}: a new worker listening`);
      }
      // It serves, from the one live worker.
      expect((await get(port)).body).toBe(String(nsup.listeningPids()[0]));
    } finally {
      clearInterval(sampler);
    }
    const overlaps = p.path('overlaps');
    expect(existsSync(overlaps) ? readFileSync(overlaps, 'utf8') : '').toBe('');
    expect(maxLive).toBe(1);
    // A fresh process each round: 1 + 20 workers.
    expect(new Set(nsup.workerPids()).size).toBe(21);

    const scale = await home.nsup(['scale', 'web', '2']);
    expect(scale.exitCode).toBe(1);
    expect(scale.stderr).toMatch(/web is a singleton \(singleton: true\): it runs exactly one worker, so it cannot be scaled to 2/);
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });
});
