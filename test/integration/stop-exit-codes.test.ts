// Issue 17: restart.stopExitCodes end to end. A worker that exits by itself with a listed code
// (process.exit(42)) is done: not restarted, not a failure, `done` in status; once every worker is
// done the app is `stopped`, and a scale or reload starts it again. Other codes still restart.
import { afterEach, describe, expect, it } from 'vitest';
import type { AppStatus, StatusDocument } from '../../src/control/types.ts';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, getJson } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, type LogLine } from '../helpers/run-nsup.ts';
import { tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

async function appStatus(home: CliHome): Promise<AppStatus> {
  const result = await home.nsup(['status', '--json']);
  return (JSON.parse(result.stdout) as StatusDocument).supervisors[0]!.apps[0]!;
}

describe('issue 17: restart.stopExitCodes', () => {
  it('a worker that exits 42 stays done until a scale or reload; exit 1 is still restarted', async () => {
    const port = await freePort();
    const p = tmpProject();
    const home = cliHome();
    try {
      p.fixture('exit-on-request.js');
      const config = p.write(
        'supervisor.config.mjs',
        `export default { apps: [{ name: 'job', script: './exit-on-request.js', instances: 2, env: { PORT: '${port}' }, restart: { delay: '100ms', stopExitCodes: [42] } }] };\n`,
      );
      const nsup = startNsup(['start', '-c', config], { env: { NSUP_HOME: home.home } });
      await nsup.waitForCount(listening, 2, 'two listening workers');

      const first = await getJson<{ worker: string }>(port, '/exit?code=42');
      const done = await nsup.waitFor((e) => e.event === 'worker.done', 'the worker to be done');
      expect(done).toMatchObject({ code: 42, worker: Number(first.worker) });
      expect(done.msg).toMatch(/exited with code 42 \(restart.stopExitCodes\): done, not restarting it/);
      // The other worker crashes (exit 1): it is restarted, the done one is not.
      const second = await getJson<{ worker: string }>(port, '/exit?code=1');
      expect(second.worker).not.toBe(first.worker);
      const restart = await nsup.waitFor((e) => e.event === 'worker.restart', 'the crashed worker to be restarted');
      expect(restart.worker).toBe(Number(second.worker));
      await nsup.waitForCount(listening, 3, 'the crashed worker to listen again');
      let status = await appStatus(home);
      expect(status.state).toBe('running');
      expect(status.workers.map((w) => [w.id, w.state, w.exitCode ?? null])).toEqual(
        [[Number(first.worker), 'done', 42], [Number(second.worker), 'listening', null]].sort((a, b) => Number(a[0]) - Number(b[0])),
      );
      expect(status.lastFailure?.code).toBe(1);
      expect((await home.nsup(['status'])).stdout).toContain(`worker ${first.worker} done: exited with code 42`);
      expect(nsup.events.filter((e) => e.event === 'worker.restart' && e.worker === Number(first.worker))).toEqual([]);

      // Scale to the same count starts the done slot again.
      const scale = await home.nsup(['scale', 'job', '2']);
      expect(scale.exitCode, scale.stderr).toBe(0);
      expect(scale.stdout).toContain('1 done worker started again');
      await nsup.waitForCount(listening, 4, 'the done slot to listen again');

      // Every worker done: the app is stopped, the supervisor stays; a reload starts it again.
      await getJson(port, '/exit?code=42');
      await nsup.waitForCount((e) => e.event === 'worker.done', 2, 'a second done worker');
      await getJson(port, '/exit?code=42');
      await nsup.waitFor((e) => e.event === 'app.state' && e.to === 'stopped', 'the app to be stopped');
      status = await appStatus(home);
      expect(status.state).toBe('stopped');
      expect(status.workers.map((w) => w.state)).toEqual(['done', 'done']);
      const reload = await home.nsup(['reload', 'job']);
      expect(reload.exitCode, reload.stderr).toBe(0);
      expect((await appStatus(home)).workers.filter((w) => w.up)).toHaveLength(2);
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      await home.dispose();
      p.dispose();
    }
  }, 60_000);
});
