// Issue 17: PM2's documented ecosystem files (single app, cluster app with env_production, several
// apps) run under the real nsup with the workers, env and limits they declare; every key nsup
// maps differently or ignores is a `config.pm2-key` warning; `nsup import` output loads and
// starts; a reload re-reads the ecosystem file; what cannot work exits 78 naming the key.
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, getJson } from '../helpers/http.ts';
import { cleanupAll, ROOT, startNsup, stopNsup, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

const PM2 = fileURLToPath(new URL('../fixtures/pm2/', import.meta.url));

interface Answer {
  pid: number;
  env: Record<string, string | undefined>;
  args: string[];
  execArgv: string[];
}

let home: CliHome | undefined;
let project: TmpProject | undefined;
const seenWorkers: number[] = [];

afterEach(async () => {
  await cleanupAll();
  await home?.dispose(seenWorkers.splice(0));
  home = undefined;
  project?.dispose();
  project = undefined;
});

const running = (app: string) => (e: LogLine) => e.event === 'app.state' && e.app === app && e.to === 'running';
const warningKeys = (nsup: Nsup) => nsup.events.filter((e) => e.event === 'config.pm2-key').map((e) => e.key);

/** A temp copy of test/fixtures/pm2 where `import { defineConfig } from 'nsup'` resolves to this repo. */
function pm2Project(): TmpProject {
  project = tmpProject();
  cpSync(PM2, project.dir, { recursive: true });
  mkdirSync(join(project.dir, 'node_modules'));
  symlinkSync(ROOT, join(project.dir, 'node_modules', 'nsup'), 'dir');
  return project;
}

/** GETs until `count` distinct worker pids answered (round-robin), bounded. */
async function answers(port: number, count: number): Promise<Answer[]> {
  const byPid = new Map<number, Answer>();
  for (let i = 0; i < 50 && byPid.size < count; i++) {
    const answer = await getJson<Answer>(port);
    byPid.set(answer.pid, answer);
  }
  expect(byPid.size).toBe(count);
  return [...byPid.values()];
}

describe('PM2 ecosystem files under nsup start', () => {
  it("PM2's single-app file: one worker of app1, up once it runs (fork mode), the app's SIGINT handler runs at stop; the fork-mode difference is a warning", async () => {
    const port = await freePort();
    const nsup = startNsup(['start', join(PM2, 'ecosystem.config.js'), '--env', `PORT=${port}`]);
    await nsup.waitFor(running('app1'), 'app1 running');
    const [answer] = await answers(port, 1);
    expect(answer!.env.NODE_APP_INSTANCE).toBe('0');
    const start = nsup.events.find((e) => e.event === 'supervisor.start');
    expect(start?.config).toBe(join(PM2, 'ecosystem.config.js'));
    expect(nsup.events.find((e) => e.event === 'worker.up')?.readyWhen).toBe('online');
    expect(warningKeys(nsup)).toEqual(['apps[0].exec_mode']);
    expect(await stopNsup(nsup)).toBe(0);
    // kill signal SIGINT (PM2's): the app's own cleanup ran.
    expect(nsup.records.some((r) => r.msg === 'app: SIGINT, closing')).toBe(true);
  });

  it('cluster app with env_production, started detached with --env production: 2 workers, the production env, instance_var, and its limits in status --json', async () => {
    home = cliHome();
    const port = await freePort();
    const file = join(PM2, 'ecosystem.cluster.config.cjs');
    const started = await home.nsup(['start', file, '-d', '--env', 'production', '--env', `PORT=${port}`]);
    expect(started.exitCode, started.stderr).toBe(0);
    expect(started.stderr).toContain('nsup: warning: ecosystem.cluster.config.cjs apps[0].listen_timeout: ');
    const envs = await answers(port, 2);
    for (const a of envs) expect(a.env).toMatchObject({ NODE_ENV: 'production', API_URL: 'https://api.example.com', PORT: String(port) });
    expect(envs.map((a) => a.env.INSTANCE_ID).sort()).toEqual(['0', '1']);
    const status = await home.nsup(['status', '--json']);
    expect(status.exitCode, status.stderr).toBe(0);
    const app = (JSON.parse(status.stdout) as { supervisors: Array<{ apps: Array<Record<string, unknown> & { workers: Array<{ pid: number }> }> }> }).supervisors[0]!.apps[0]!;
    seenWorkers.push(...app.workers.map((w) => w.pid));
    expect(app).toMatchObject({ name: 'api', state: 'running', desired: 2, readyWhen: 'listening' });
    expect(app.limits).toEqual({
      maxMemoryBytes: 300 * 1024 * 1024,
      maxRequests: null,
      maxRequestsJitter: 0,
      killTimeoutMs: 3000,
      listenTimeoutMs: 8000,
      restart: { delayMs: 200, maxDelayMs: 200, minUptimeMs: 10_000, maxRestarts: 5, stopExitCodes: [] },
    });
    // No env value in the status document.
    expect(status.stdout).not.toContain('api.example.com');
    const stopped = await home.nsup(['stop', 'all']);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
  });

  it("PM2's several-apps file (JSON, with -c): two background workers with their args, names made valid, and a cluster web app with node_args", async () => {
    const port = await freePort();
    const nsup = startNsup(['start', '-c', join(PM2, 'ecosystem.apps.json'), '--env', `PORT=${port}`]);
    for (const app of ['limit-worker', 'rotate-worker', 'web']) await nsup.waitFor(running(app), `${app} running`);
    expect(nsup.records.filter((r) => /^worker (limit|rotate) started/.test(String(r.msg))).map((r) => [r.app, r.msg]).sort()).toEqual([
      ['limit-worker', 'worker limit started (instance 0)'],
      ['rotate-worker', 'worker rotate started (instance 0)'],
    ]);
    const web = await answers(port, 2);
    for (const a of web) expect(a.execArgv).toContain('--max-old-space-size=256');
    expect(warningKeys(nsup).sort()).toEqual(['apps[0].exec_mode', 'apps[0].name', 'apps[1].exec_mode', 'apps[1].name']);
    expect(await stopNsup(nsup)).toBe(0);
    expect(nsup.records.filter((r) => /SIGINT, stopping$/.test(String(r.msg)))).toHaveLength(2);
  });

  it('lists every key it maps differently or ignores, one config.pm2-key line each, and still starts (a CommonJS .js file outside any package)', async () => {
    const p = pm2Project();
    const port = await freePort();
    // A file not named ecosystem*: PM2's format shows in module.exports and its keys.
    writeFileSync(join(p.dir, 'package.json'), '{}');
    const file = p.write('processes.config.js', `module.exports = {
  apps: [{
    name: 'api',
    script: './app.js',
    exec_mode: 'fork',
    cron_restart: '0 3 * * *',
    log_date_format: 'YYYY-MM-DD HH:mm Z',
    merge_logs: false,
    namespace: 'backend',
    vizion: false,
    pmx: true,
    shutdown_with_message: true,
    out_file: '/dev/null',
    env: { PORT: ${port}, TOKEN: 'do-not-print-me' },
  }],
  deploy: { production: { user: 'node', host: 'example.com', ref: 'origin/main', repo: 'git@example.com:app.git', path: '/srv/app' } },
};
`);
    const nsup = startNsup(['start', file]);
    await nsup.waitFor(running('api'), 'api running');
    expect(warningKeys(nsup).sort()).toEqual(
      ['apps[0].cron_restart', 'apps[0].exec_mode', 'apps[0].log_date_format', 'apps[0].merge_logs', 'apps[0].namespace', 'apps[0].pmx', 'apps[0].shutdown_with_message', 'apps[0].vizion', 'deploy'].sort(),
    );
    for (const e of nsup.events.filter((x) => x.event === 'config.pm2-key')) {
      expect(e.level).toBe('warn');
      expect(String(e.msg).startsWith(`processes.config.js ${String(e.key)}: `)).toBe(true);
    }
    expect(nsup.stdout.join('\n')).not.toContain('do-not-print-me');
    const [answer] = await answers(port, 1);
    expect(answer!.env.PORT).toBe(String(port));
    expect(await stopNsup(nsup)).toBe(0);
  });
});

describe('nsup import', () => {
  it('writes a typed config (warnings as comments and on stderr, exit 0) that nsup start -c loads and runs', async () => {
    const p = pm2Project();
    home = cliHome();
    const result = await home.nsup(['import', join(p.dir, 'ecosystem.cluster.config.cjs')]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain('nsup: warning: ecosystem.cluster.config.cjs apps[0].listen_timeout: ');
    expect(result.stdout).toContain('//   ecosystem.cluster.config.cjs apps[0].listen_timeout: ');
    expect(result.stdout).toContain("      maxMemory: '300MB',\n");
    // The fixtures' package.json says "type": "commonjs" (a PM2 project's usual CommonJS): a .ts file there would be CommonJS too.
    expect(result.stderr).toContain('save the output next to it as supervisor.config.mts, then run nsup start -c supervisor.config.mts');
    const config = p.write('supervisor.config.mts', result.stdout);
    const port = await freePort();
    const nsup = startNsup(['start', '-c', config, '--env', `PORT=${port}`], { cwd: p.dir });
    await nsup.waitFor(running('api'), 'api running');
    const envs = await answers(port, 2);
    for (const a of envs) expect(a.env).toMatchObject({ NODE_ENV: 'development', API_URL: 'http://localhost:4000' });
    expect(envs.map((a) => a.env.INSTANCE_ID).sort()).toEqual(['0', '1']);
    // The converted file is nsup's format: no PM2 warnings any more.
    expect(warningKeys(nsup)).toEqual([]);
    expect(await stopNsup(nsup)).toBe(0);
  });
});

describe('reloads and refusals', () => {
  it('plain nsup start uses ./ecosystem.config.js, and a reload re-reads it (an edited module.exports file)', async () => {
    const p = pm2Project();
    const port = await freePort();
    const source = readFileSync(join(p.dir, 'ecosystem.cluster.config.cjs'), 'utf8');
    writeFileSync(join(p.dir, 'ecosystem.config.js'), source);
    const nsup = startNsup(['start', '--env', `PORT=${port}`], { cwd: p.dir });
    await nsup.waitFor(running('api'), 'api running');
    expect(nsup.events.find((e) => e.event === 'supervisor.start')?.config).toBe(join(p.dir, 'ecosystem.config.js'));
    expect((await answers(port, 2))[0]!.env.API_URL).toBe('http://localhost:4000');
    writeFileSync(join(p.dir, 'ecosystem.config.js'), source.replace('http://localhost:4000', 'http://localhost:4001'));
    nsup.proc.kill('SIGHUP');
    const end = await nsup.waitFor((e) => e.event === 'reload.done' || e.event === 'reload.rolled-back' || e.event === 'reload.config-invalid', 'the reload to end', 30_000);
    expect(end.event).toBe('reload.done');
    for (const a of await answers(port, 2)) expect(a.env.API_URL).toBe('http://localhost:4001');
    // The same warnings are not logged again by the reload.
    expect(warningKeys(nsup)).toEqual(['apps[0].listen_timeout']);
    expect(await stopNsup(nsup)).toBe(0);
  });

  it('a non-Node interpreter cannot work: exit 78, the key named, nothing started', async () => {
    const p = pm2Project();
    home = cliHome();
    const file = p.write('ecosystem.config.js', "module.exports = { apps: [{ name: 'jobs', script: './app.js', interpreter: 'python3' }] };\n");
    const result = await home.nsup(['start', file]);
    expect(result.exitCode).toBe(78);
    expect(result.stderr).toContain(`Invalid config in ${file} at apps[0].interpreter: 'python3': nsup runs Node.js scripts only`);
    expect(result.stderr).toContain('[NSUP_ERR_CONFIG_INVALID]');
    expect(home.daemonPids()).toEqual([]);
  });
});
