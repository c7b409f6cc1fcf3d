// Issue 17: release-directory deploys and `nsup deploy`. With cwd './current' and
// `ln -sfn releases/2 current`, a rolling reload serves release 2 from its real directory with no
// failed request, and status names each generation's directory while both run. `nsup deploy` starts
// what is not running, rolls what is, and exits non-zero with the reason when a reload rolled back.
import { realpathSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, get, getJson } from '../helpers/http.ts';
import { startLoad } from '../helpers/load.ts';
import { releaseProject, type ReleaseProject } from '../helpers/releases.ts';
import { cleanupAll, startNsup, stopNsup, type LogLine } from '../helpers/run-nsup.ts';
import type { AppStatus, StatusDocument } from '../../src/control/types.ts';

afterEach(cleanupAll);

interface Answer {
  build: string;
  cwd: string;
  script: string;
  gen: string;
}

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

async function appStatus(home: CliHome): Promise<AppStatus> {
  const result = await home.nsup(['status', '--json']);
  expect(result.exitCode, result.stderr).toBe(0);
  const app = (JSON.parse(result.stdout) as StatusDocument).supervisors.flatMap((s) => s.apps).find((a) => a.name === 'web');
  expect(app).toBeDefined();
  return app!;
}

/** Run `body` with a release project and a private runtime dir; both are removed after. */
async function withReleases(body: (r: ReleaseProject, home: CliHome, port: number) => Promise<void>, opts: { instances?: number } = {}): Promise<void> {
  const port = await freePort();
  const r = releaseProject(port, opts);
  const home = cliHome();
  try {
    await body(r, home, port);
  } finally {
    await home.dispose();
    r.project.dispose();
  }
}

describe('issue 17: release directories', () => {
  it('a reload after flipping current serves the new release from its real directory, 0 failed requests, and status shows both generations', async () => {
    await withReleases(async (r, home, port) => {
      const one = realpathSync(r.project.path('releases/1'));
      const two = r.release(2);
      const nsup = startNsup(['start', '-c', r.config], { env: { NSUP_HOME: home.home } });
      await nsup.waitForCount(listening, 2, 'two listening workers');
      expect(await getJson<Answer>(port)).toMatchObject({ build: '1', cwd: one, script: `${one}/release-info.js` });

      const load = startLoad(port, { connections: 10 });
      // An in-flight request holds one old worker in its drain: both generations run for a while.
      const slow = get(port, '/?delay=4000', { timeoutMs: 15_000 });
      await nsup.waitForOutput((line) => line.includes('slow request started (build 1)'), 'the slow request to reach release 1');
      const oldPids = nsup.listeningPids();
      r.flip(2);
      nsup.proc.kill('SIGHUP');
      await nsup.waitFor((e) => e.event === 'reload.step' && e.step === 'retire', 'the reload to commit');
      // The old worker without the slow request drains in a moment; the other one holds on to it.
      await nsup.waitFor((e) => e.event === 'worker.exit' && oldPids.includes(e.pid as number), 'the idle old worker to exit', 3000);

      const during = await appStatus(home);
      expect(during.cwd).toBe(r.project.path('current'));
      expect(during.generations).toEqual([
        { generation: 1, cwd: one, script: `${one}/release-info.js`, workers: 1, role: 'retiring' },
        { generation: 2, cwd: two, script: `${two}/release-info.js`, workers: 2, role: 'serving' },
      ]);
      for (const w of during.workers) expect(w.cwd).toBe(w.generation === 1 ? one : two);
      const table = await home.nsup(['status']);
      expect(table.stdout).toContain(`gen 1 retiring from ${one} (1 worker)`);
      expect(table.stdout).toContain(`gen 2 serving from ${two} (2 workers)`);

      // The old release finished its request; the reload ends once its worker is gone.
      expect(JSON.parse((await slow).body)).toMatchObject({ build: '1', cwd: one });
      await nsup.waitFor((e) => e.event === 'reload.done', 'the reload to finish');
      const result = await load.stop();
      expect(result.failed, JSON.stringify(result)).toBe(0);
      expect(result.ok).toBeGreaterThan(100);
      expect(await getJson<Answer>(port)).toMatchObject({ build: '2', cwd: two, script: `${two}/release-info.js`, gen: '2' });
      expect((await appStatus(home)).generations).toEqual([{ generation: 2, cwd: two, script: `${two}/release-info.js`, workers: 2, role: 'serving' }]);
      expect(await stopNsup(nsup)).toBe(0);
    });
  }, 60_000);
});

describe('issue 17: nsup deploy', () => {
  it('with nothing running: starts the apps as start -d does (returns once every worker is up); run again, it rolls them', async () => {
    await withReleases(async (r, home, port) => {
      const first = await home.nsup(['deploy', r.config]);
      expect(first.exitCode, first.stderr).toBe(0);
      expect(first.stdout).toContain('nsup deploy: web is not running: starting it');
      expect(first.stdout).toMatch(/daemon \d+ is up/);
      expect((await appStatus(home)).workers.filter((w) => w.up)).toHaveLength(2);
      expect(await getJson<Answer>(port)).toMatchObject({ build: '1', gen: '1' });

      const again = await home.nsup(['deploy', r.config]);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/web runs under supervisor \d+: rolling it onto the new config/);
      expect(again.stdout).toContain(`web: deployed: generation 2 serves from ${realpathSync(r.project.path('releases/1'))}`);
      expect(home.daemonPids()).toHaveLength(1);
    });
  }, 60_000);

  it('on a running app: the new release is served with 0 failed requests under load, and deploy flags apply', async () => {
    await withReleases(async (r, home, port) => {
      expect((await home.nsup(['start', '-d', '-c', r.config])).exitCode).toBe(0);
      const two = r.release(2);
      const load = startLoad(port, { connections: 10 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      r.flip(2);
      const deploy = await home.nsup(['deploy', r.config, '-i', '3'], { timeoutMs: 60_000 });
      const result = await load.stop();
      expect(deploy.exitCode, deploy.stderr).toBe(0);
      expect(deploy.stdout).toContain(`web: deployed: generation 2 serves from ${two}`);
      expect(result.failed, JSON.stringify(result)).toBe(0);
      expect(result.ok).toBeGreaterThan(100);
      expect(await getJson<Answer>(port)).toMatchObject({ build: '2', cwd: two, gen: '2' });
      const status = await appStatus(home);
      expect(status.workers.filter((w) => w.up && w.cwd === two)).toHaveLength(3);
    });
  }, 60_000);

  it('on a broken new version: exits 1 with the reason, and the old version keeps serving', async () => {
    await withReleases(async (r, home, port) => {
      expect((await home.nsup(['deploy', r.config])).exitCode).toBe(0);
      r.release(2, { broken: true });
      r.flip(2);
      const load = startLoad(port, { connections: 10 });
      const deploy = await home.nsup(['deploy', r.config], { timeoutMs: 60_000 });
      const result = await load.stop();
      expect(deploy.exitCode).toBe(1);
      expect(deploy.stderr).toMatch(/nsup: web: deploy failed, the reload rolled back: worker \d of the new generation exited before it was up: .*release 2: missing DATABASE_URL; generation 1 keeps serving/);
      expect(result.failed, JSON.stringify(result)).toBe(0);
      expect(await getJson<Answer>(port)).toMatchObject({ build: '1', cwd: realpathSync(r.project.path('releases/1')), gen: '1' });
      const status = await appStatus(home);
      expect(status.state).toBe('running');
      expect(status.lastReload).toMatchObject({ ok: false });
    });
  }, 60_000);

  it('an invalid config exits 78 and touches nothing', async () => {
    await withReleases(async (r, home, port) => {
      expect((await home.nsup(['deploy', r.config])).exitCode).toBe(0);
      r.project.write('broken.config.mjs', "export default { apps: [{ name: 'web', script: './nope.js' }] };\n");
      const deploy = await home.nsup(['deploy', r.project.path('broken.config.mjs')]);
      expect(deploy.exitCode).toBe(78);
      expect(deploy.stderr).toMatch(/apps\[0\]\.script: file not found/);
      expect((await appStatus(home)).generation).toBe(1);
      expect(await getJson<Answer>(port)).toMatchObject({ gen: '1' });
    });
  }, 60_000);
});
