// Issue 17: environments through the real binary. `--env production` with envs, the one
// precedence (process env < env files < env < the named set < --env KEY=VALUE), instanceVar and
// incrementVar per worker, a reload that re-reads the .env, and no env value in anything nsup
// prints (status --json, the status table, logs, the daemon's log, error output).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliHome, type CliHome } from '../helpers/daemon.ts';
import { freePort, getJson } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

interface Answer {
  pid: number;
  slot: number;
  gen: number;
  env: Record<string, string | null>;
}

let project: TmpProject | undefined;
let home: CliHome | undefined;
afterEach(async () => {
  await cleanupAll();
  await home?.dispose();
  project?.dispose();
  home = project = undefined;
});

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const ask = (port: number, keys: string[]) => getJson<Answer>(port, `/?keys=${keys.join(',')}`);

/** A port p with p+1 free too (a base and base+1 for incrementVar). */
async function twoPorts(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    if (port < 65535 && (await free(port + 1))) return port;
  }
  throw new Error('no two consecutive free ports in 20 attempts');
}

describe('environments', () => {
  it('--env production picks the set, and each level overrides the one below it', async () => {
    project = tmpProject();
    project.fixture('env-echo.js');
    const port = await freePort();
    // Vk is set at levels 0..k: its value must come from level k.
    project.write('.env', 'V1=.env\nV2=.env\nV3=.env\nV4=.env\nV5=.env\n');
    project.write('.env.local', 'V2=.env.local\nV3=.env.local\nV4=.env.local\nV5=.env.local\n');
    const config = project.write(
      'supervisor.config.mjs',
      `export default { apps: [{ name: 'web', script: './env-echo.js', instances: 1, envFile: ['.env', '.env.local'],
        env: { PORT: ${port}, V3: 'env', V4: 'env', V5: 'env', NODE_ENV: 'development' },
        envs: { production: { V4: 'production', V5: 'production', NODE_ENV: 'production' }, staging: { NODE_ENV: 'staging' } } }] };`,
    );
    const processEnv = Object.fromEntries(['V0', 'V1', 'V2', 'V3', 'V4', 'V5'].map((k) => [k, 'process']));
    const nsup = startNsup(['start', '-c', config, '--env', 'production', '--env', 'V5=cli'], { env: processEnv });
    await nsup.waitFor(listening, 'the worker listening');
    const { env } = await ask(port, ['V0', 'V1', 'V2', 'V3', 'V4', 'V5', 'NODE_ENV']);
    expect(env).toEqual({ V0: 'process', V1: '.env', V2: '.env.local', V3: 'env', V4: 'production', V5: 'cli', NODE_ENV: 'production' });
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });

  it('a reload re-reads the env file: the edited value reaches the new generation', async () => {
    project = tmpProject();
    const script = project.fixture('env-echo.js');
    const port = await freePort();
    const envFile = project.write('.env', 'RELEASE=one\n');
    const nsup = startNsup(['start', script, '-i', '2', '--env-file', envFile, '--env', `PORT=${port}`]);
    await nsup.waitForCount(listening, 2, 'two workers listening');
    expect((await ask(port, ['RELEASE'])).env.RELEASE).toBe('one');
    writeFileSync(envFile, 'RELEASE=two\n');
    nsup.proc.kill('SIGHUP');
    expect((await nsup.waitFor((e) => e.event === 'reload.done' || e.event === 'reload.rolled-back', 'the reload', 30_000)).event).toBe('reload.done');
    for (let i = 0; i < 4; i++) expect(await ask(port, ['RELEASE'])).toMatchObject({ gen: 2, env: { RELEASE: 'two' } });
    expect(await stopNsup(nsup)).toBe(0);
  });

  it('instanceVar and incrementVar with -i 2: each worker its slot, and base + slot on its own second port', async () => {
    project = tmpProject();
    const script = project.fixture('env-echo.js');
    const port = await freePort();
    const base = await twoPorts();
    // Every worker listens on PORT (shared, cluster mode) and on its own SECOND_PORT: --listen
    // names the address that makes a worker up, since no two workers share the second one.
    const nsup = startNsup(['start', script, '-i', '2', '--env', `PORT=${port}`, '--env', `SECOND_PORT=${base}`, '--increment-var', 'SECOND_PORT', '--instance-var', 'INSTANCE_ID', '--listen', String(port)]);
    await nsup.waitForCount(listening, 2, 'two workers listening');
    const keys = ['SECOND_PORT', 'INSTANCE_ID', 'NODE_APP_INSTANCE'];
    // Each worker's second port answers once it listens there (after its shared port, which made it up).
    const second = async (p: number) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await ask(p, keys);
        } catch (error) {
          if (attempt >= 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };
    const zero = await second(base);
    const one = await second(base + 1);
    expect(zero).toMatchObject({ slot: 0, env: { SECOND_PORT: String(base), INSTANCE_ID: '0', NODE_APP_INSTANCE: null } });
    expect(one).toMatchObject({ slot: 1, env: { SECOND_PORT: String(base + 1), INSTANCE_ID: '1', NODE_APP_INSTANCE: null } });
    expect(zero.pid).not.toBe(one.pid);
    expect(await stopNsup(nsup)).toBe(0);
  });

  it('an unknown set and a missing env file are config errors (exit 78) that name what is wrong', async () => {
    project = tmpProject();
    project.fixture('env-echo.js');
    const config = project.write('supervisor.config.mjs', `export default { apps: [{ script: './env-echo.js', envs: { production: {}, development: {} } }] };`);
    const unknown = startNsup(['start', '-c', config, '--env', 'prod']);
    expect((await unknown.exited).code).toBe(78);
    expect(unknown.stderr.join('\n')).toMatch(/no app has an env set named 'prod' \(the apps define: production, development\)/);
    // (In a config file: on the command line, node itself stops at a missing --env-file path before
    // nsup runs, exit 9, nodejs/node#54232; docs/env.md.)
    const withFile = project.write('missing.config.mjs', `export default { apps: [{ script: './env-echo.js', envFile: ['.env.nope'] }] };`);
    const missing = startNsup(['start', '-c', withFile]);
    expect((await missing.exited).code).toBe(78);
    expect(missing.stderr.join('\n')).toContain(`at apps[0].envFile[0]: env file not found: ${project.path('.env.nope')}`);
  });
});

describe('secrets: no env value in anything nsup prints', () => {
  it('status --json, the status table, logs, the daemon log, reload and config errors', async () => {
    const secret = `s3cr3t-${Math.random().toString(36).slice(2)}`;
    const secrets = { file: `${secret}-file`, env: `${secret}-env`, set: `${secret}-set`, cli: `${secret}-cli` };
    home = cliHome();
    project = tmpProject();
    project.fixture('env-echo.js');
    const port = await freePort();
    project.write('.env', `API_TOKEN=${secrets.file}\n`);
    const good = `export default { apps: [{ name: 'web', script: './env-echo.js', instances: 2, envFile: '.env',
      env: { PORT: ${port}, DB_PASSWORD: '${secrets.env}' }, envs: { production: { PROD_KEY: '${secrets.set}' } } }] };`;
    const config = project.write('supervisor.config.mjs', good);
    const printed: string[] = [];
    const run = async (args: string[]) => {
      const result = await home!.nsup(args);
      printed.push(result.stdout, result.stderr);
      return result;
    };
    const start = await run(['start', '-c', config, '-d', '--env', 'production', '--env', `CLI_SECRET=${secrets.cli}`]);
    expect(start.exitCode, start.stderr).toBe(0);
    // The workers have every secret: the test's value is really in play.
    expect((await ask(port, ['API_TOKEN', 'DB_PASSWORD', 'PROD_KEY', 'CLI_SECRET'])).env).toEqual({ API_TOKEN: secrets.file, DB_PASSWORD: secrets.env, PROD_KEY: secrets.set, CLI_SECRET: secrets.cli });
    expect((await run(['status', '--json'])).exitCode).toBe(0);
    expect((await run(['status'])).exitCode).toBe(0);
    expect((await run(['reload', 'web'])).exitCode).toBe(0);
    // A reload whose config has an env value of the wrong type is refused, and says where, not what.
    writeFileSync(config, good.replace(`DB_PASSWORD: '${secrets.env}'`, `DB_PASSWORD: ['${secrets.env}']`));
    const refused = await run(['reload', 'web']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('apps[0].env.DB_PASSWORD');
    // incrementVar on a secret that is not a number: the error names the variable only.
    writeFileSync(config, good.replace(`envFile: '.env',`, `envFile: '.env', incrementVar: 'API_TOKEN',`));
    const increment = await run(['reload', 'web']);
    expect(increment.exitCode).toBe(1);
    expect(increment.stderr).toMatch(/incrementVar 'API_TOKEN' needs an integer/);
    writeFileSync(config, good);
    expect((await run(['logs', 'web', '--lines', '1000'])).exitCode).toBe(0);
    expect((await run(['logs', 'web', '--json', '--lines', '1000'])).exitCode).toBe(0);
    // A foreground start with a bad env value: the error output.
    const bad = project.write('bad.config.mjs', `export default { apps: [{ script: './env-echo.js', env: { TOKEN: { value: '${secret}' }, LIST: ['${secret}'] } }] };`);
    const failed = startNsup(['start', '-c', bad]);
    expect((await failed.exited).code).toBe(78);
    printed.push(...failed.stdout, ...failed.stderr);
    const status = await run(['status', '--json']);
    const pids = (JSON.parse(status.stdout) as { supervisors: Array<{ apps: Array<{ workers: Array<{ pid: number }> }> }> }).supervisors.flatMap((s) => s.apps.flatMap((a) => a.workers.map((w) => w.pid)));
    expect((await run(['stop', 'all'])).exitCode).toBe(0);
    expect(await waitGone(pids)).toEqual([]);
    // Everything nsup wrote: its command output and every file in its runtime dir (daemon and app logs).
    for (const name of readdirSync(home.home)) if (name.endsWith('.log')) printed.push(readFileSync(join(home.home, name), 'utf8'));
    const all = printed.join('\n');
    expect(all).toContain('reload refused');
    expect(all.length).toBeGreaterThan(1000);
    expect(all).not.toContain(secret);
  });
});
