// Issue 17: PM2 ecosystem files. Which files are PM2's format, what each PM2 key becomes, one
// warning per key mapped differently or ignored, refusals naming the key, PM2 names in nsup
// configs getting a hint, and `nsup import`'s output loading back to the same config.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderConfig } from '../../src/cli/run-import.ts';
import { defaultConfigFile, isConfigFileName, loadConfigFile, loadEcosystem } from '../../src/config/load.ts';
import { fromPm2, inPm2Terms, isPm2Ecosystem } from '../../src/config/pm2.ts';
import { IGNORED } from '../../src/config/pm2-keys.ts';
import { resolveConfig } from '../../src/config/schema.ts';
import { resolveInstances } from '../../src/cpus.ts';
import { ConfigInvalidError, ConfigLoadError } from '../../src/errors.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PM2_FIXTURES = fileURLToPath(new URL('../fixtures/pm2/', import.meta.url));
const FILE = '/srv/app/ecosystem.config.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsup-pm2-'));
  cpSync(PM2_FIXTURES, dir, { recursive: true });
  // `import { defineConfig } from 'nsup'` in the imported config resolves to this repo, as an installed nsup would.
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'nsup'), 'dir');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The nsup app one PM2 app becomes, and the warnings' key paths. */
function convert(app: Record<string, unknown>): { app: Record<string, unknown>; keys: string[] } {
  const { config, warnings } = fromPm2({ apps: [{ script: './app.js', exec_mode: 'cluster', ...app }] }, { file: FILE });
  return { app: config.apps[0] as Record<string, unknown>, keys: warnings.map((w) => w.key) };
}

function refusal(app: Record<string, unknown>): ConfigInvalidError {
  try {
    convert(app);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigInvalidError);
    return error as ConfigInvalidError;
  }
  throw new Error('expected a refusal');
}

describe('which files are PM2 ecosystem files', () => {
  it.each([
    ['JSON', { apps: [{ script: 'a.js' }] }, '/p/processes.json', 'json', true],
    ['named ecosystem*, even as an ES module', { apps: [{ script: 'a.js' }] }, '/p/ecosystem.config.mjs', 'esm', true],
    ['CommonJS with a PM2-only key', { apps: [{ script: 'a.js', exec_mode: 'cluster' }] }, '/p/pm2.config.js', 'commonjs', true],
    ['CommonJS with env_production', { apps: [{ script: 'a.js', env_production: {} }] }, '/p/pm2.config.js', 'commonjs', true],
    ['CommonJS with a deploy section', { apps: [{ script: 'a.js' }], deploy: {} }, '/p/pm2.config.js', 'commonjs', true],
    ['CommonJS in nsup format', { apps: [{ script: 'a.js', maxMemory: '1GB' }] }, '/p/supervisor.config.cjs', 'commonjs', false],
    ['an ES module with PM2 keys (nsup format: the key gets a hint)', { apps: [{ script: 'a.js', exec_mode: 'cluster' }] }, '/p/supervisor.config.js', 'esm', false],
  ] as const)('%s', (_what, value, file, format, expected) => {
    expect(isPm2Ecosystem(value, file, format)).toBe(expected);
  });

  it('start takes *.config.* files, ecosystem*.js and .json as config files, not scripts; uses ecosystem.config.js without supervisor.config.ts', () => {
    for (const name of ['ecosystem.config.js', 'ecosystem.config.cjs', 'ecosystem.json', 'pm2/apps.config.js', 'supervisor.config.ts', 'ecosystem.js']) expect(isConfigFileName(name), name).toBe(true);
    for (const name of ['server.js', 'app.cjs', 'config.js', 'dist/main.mjs']) expect(isConfigFileName(name), name).toBe(false);
    expect(defaultConfigFile(dir)).toBe(join(dir, 'ecosystem.config.js'));
  });

  it('accepts { apps: [...] }, { apps: {...} }, an array of apps, and one app', () => {
    for (const value of [{ apps: [{ script: 'a.js' }] }, { apps: { script: 'a.js' } }, [{ script: 'a.js' }], { script: 'a.js' }]) {
      expect(fromPm2(value, { file: FILE }).config.apps).toHaveLength(1);
    }
    expect(() => fromPm2({ applications: [] }, { file: FILE })).toThrow(/exports \{ apps: \[/);
  });
});

describe('what each PM2 key becomes', () => {
  it.each([
    ['instances 0', { instances: 0 }, { instances: 'max' }],
    ["instances 'max'", { instances: 'max' }, { instances: 'max' }],
    ['instances -1', { instances: -1 }, { instances: -1 }],
    ["instances '4'", { instances: '4' }, { instances: 4 }],
    ['no instances: one, as in PM2', {}, { instances: 1 }],
    ['args as a string', { args: '--port 3000 "two words"' }, { args: ['--port', '3000', 'two words'] }],
    ['node_args', { node_args: '--max-old-space-size=512 --trace-warnings' }, { nodeArgs: ['--max-old-space-size=512', '--trace-warnings'] }],
    ['interpreter_args (alias)', { interpreter_args: ['--inspect'] }, { nodeArgs: ['--inspect'] }],
    ['source_map_support', { source_map_support: true, node_args: ['--a'] }, { nodeArgs: ['--a', '--enable-source-maps'] }],
    ['max_memory_restart', { max_memory_restart: '300M' }, { maxMemory: '300MB' }],
    ['max_memory_restart in bytes', { max_memory_restart: 1048576 }, { maxMemory: 1048576 }],
    ['kill_timeout', { kill_timeout: 1600 }, { killTimeout: 1600, killSignal: 'SIGINT' }],
    ['wait_ready', { wait_ready: true }, { waitReady: true }],
    ['min_uptime and max_restarts', { min_uptime: '5s', max_restarts: 16 }, { restart: { minUptime: '5s', maxRestarts: 16 } }],
    ['restart_delay: a fixed delay', { restart_delay: 3000 }, { restart: { delay: 3000, maxDelay: 3000 } }],
    ['stop_exit_codes', { stop_exit_codes: [0, 42] }, { restart: { stopExitCodes: [0, 42] } }],
    ['stop_exit_codes as a number', { stop_exit_codes: 3 }, { restart: { stopExitCodes: [3] } }],
    ['watch true: the cwd, as in PM2', { watch: true, ignore_watch: ['node_modules', 'logs'], watch_delay: 1000 }, { watch: { paths: ['.'], ignore: ['node_modules', 'logs'], debounce: 1000 } }],
    ['watch paths', { watch: ['src', 'config'] }, { watch: { paths: ['src', 'config'] } }],
    ['env and port', { env: { NODE_ENV: 'development' }, port: 8080 }, { env: { NODE_ENV: 'development', PORT: 8080 } }],
    ['env_<name>', { env_production: { NODE_ENV: 'production' }, env_staging: { NODE_ENV: 'staging' } }, { envs: { production: { NODE_ENV: 'production' }, staging: { NODE_ENV: 'staging' } } }],
    ['instance_var / increment_var', { instance_var: 'INSTANCE_ID', increment_var: 'PORT' }, { instanceVar: 'INSTANCE_ID', incrementVar: 'PORT' }],
    ['out_file / error_file', { out_file: './out.log', error_file: './err.log' }, { logFile: './out.log', errorFile: './err.log' }],
    ['log_file alone: the combined file', { log_file: './all.log' }, { logFile: './all.log' }],
    ['disable_logs', { disable_logs: true }, { logFile: '/dev/null', errorFile: '/dev/null' }],
    ["log_type 'json'", { log_type: 'json' }, { logFormat: 'json' }],
    ['time false', { time: false }, { logTime: 'off' }],
    ['exec alias of script', { exec: './other.js' }, { script: './other.js' }],
    ['cron_restart: a rolling reload on that schedule', { cron_restart: '0 4 * * *' }, { recycle: '0 4 * * *' }],
    ['cron (alias)', { cron: '*/30 * * * * *' }, { recycle: '*/30 * * * * *' }],
    ["nsup's own keys pass through and win", { max_memory_restart: '300M', maxMemory: '1GB', restart: { maxDelay: '2s' }, min_uptime: 1000 }, { maxMemory: '1GB', restart: { minUptime: 1000, maxDelay: '2s' } }],
  ])('%s', (_what, pm2, expected) => {
    expect(convert(pm2).app).toMatchObject(expected);
  });

  it('fork mode (explicit, or PM2 default without instances) is up once it runs; cluster waits for the listen; wait_ready for ready()', () => {
    expect(convert({ exec_mode: 'fork' }).app.readyWhen).toBe('online');
    expect(fromPm2({ apps: [{ script: 'a.js' }] }, { file: FILE }).config.apps[0]).toMatchObject({ readyWhen: 'online', instances: 1 });
    expect(fromPm2({ apps: [{ script: 'a.js', instances: 4 }] }, { file: FILE }).config.apps[0]).not.toHaveProperty('readyWhen');
    expect(convert({}).app).not.toHaveProperty('readyWhen');
    expect(convert({ exec_mode: 'fork', wait_ready: true }).app).not.toHaveProperty('readyWhen');
  });

  it('instances below -1 become a count on this machine, with a warning', () => {
    const { app, keys } = convert({ instances: -2 });
    expect(app.instances).toBe(Math.max(1, resolveInstances('max').count - 2));
    expect(keys).toEqual(['apps[0].instances']);
  });

  it('autorestart: false is done on exit 0, no retries, and says what still differs', () => {
    const { app, keys } = convert({ autorestart: false, stop_exit_codes: [42] });
    expect(app.restart).toEqual({ stopExitCodes: [0, 42], maxRestarts: 0 });
    expect(keys).toEqual(['apps[0].autorestart']);
  });
});

describe('warnings: one per key mapped differently or ignored, never silently', () => {
  it('every ignored PM2 key gets its own line, naming the file and the key', () => {
    const ignored = Object.fromEntries(Object.keys(IGNORED).map((key) => [key, true]));
    const { config, warnings } = fromPm2({ apps: [{ script: './app.js', exec_mode: 'cluster', ...ignored }], deploy: { production: {} } }, { file: FILE });
    expect(warnings.map((w) => w.key).sort()).toEqual([...Object.keys(IGNORED).map((k) => `apps[0].${k}`), 'deploy'].sort());
    for (const w of warnings) expect(w.message.startsWith(`ecosystem.config.js ${w.key}: `), w.message).toBe(true);
    expect(Object.keys(config.apps[0] as object).sort()).toEqual(['instances', 'killSignal', 'script']);
    expect(warnings.find((w) => w.key === 'deploy')?.message).toMatch(/nsup deploy/);
  });

  it.each([
    ['exec_mode fork', { exec_mode: 'fork' }, /'fork' runs as cluster workers under nsup/],
    ['listen_timeout', { listen_timeout: 8000 }, /rolls back/],
    ['exp_backoff_restart_delay', { exp_backoff_restart_delay: 100 }, /doubles it/],
    ['restart_delay with exp_backoff_restart_delay', { exp_backoff_restart_delay: 100, restart_delay: 5000 }, /ignored: exp_backoff_restart_delay is set too/],
    ['log_date_format', { log_date_format: 'YYYY-MM-DD HH:mm Z' }, /logTime: 'local'/],
    ['log_file next to out_file', { out_file: './o.log', log_file: './all.log' }, /no third, combined file/],
    ['merge_logs false', { merge_logs: false }, /one file for every worker/],
    ['shutdown_with_message', { shutdown_with_message: true }, /onShutdown\(\)/],
    ['a name nsup does not take', { name: 'limit worker' }, /becomes 'limit-worker'/],
    ['ignore_watch without watch', { ignore_watch: ['logs'] }, /ignored: watch is off/],
    ['a key PM2 does not have', { maxMemoryRestart: '1G' }, /not a PM2 app key nsup knows/],
    ['cron_restart', { cron_restart: '0 4 * * *' }, /^ecosystem\.config\.js apps\[0\]\.cron_restart: '0 4 \* \* \*' becomes recycle: a rolling reload on that schedule \(new workers up before the old ones drain\), never a restart$/],
  ])('%s', (_what, pm2, message) => {
    const { warnings } = fromPm2({ apps: [{ script: './app.js', exec_mode: 'cluster', ...pm2 }] }, { file: FILE });
    expect(warnings.map((w) => w.message).join('\n')).toMatch(message);
  });

  it('no warning for keys nsup maps the same way, and none shows an env value', () => {
    const { warnings } = fromPm2({ apps: [{ name: 'api', script: './app.js', exec_mode: 'cluster', instances: 'max', max_memory_restart: '1G', kill_timeout: 3000, env: { TOKEN: 'SECRET-VALUE' }, env_production: { TOKEN: 'SECRET-PROD' }, merge_logs: true, time: true }] }, { file: FILE });
    expect(warnings).toEqual([]);
    const noisy = fromPm2({ apps: [{ script: './app.js', env: { TOKEN: 'SECRET-VALUE' }, vizion: false, log_date_format: 'x' }] }, { file: FILE });
    expect(JSON.stringify(noisy.warnings)).not.toContain('SECRET');
  });
});

describe('refusals: what cannot work exits 78 with the key named', () => {
  it.each([
    ['a python interpreter', { interpreter: 'python3' }, 'apps[0].interpreter', /nsup runs Node.js scripts only/],
    ['interpreter none', { exec_interpreter: 'none' }, 'apps[0].exec_interpreter', /Node.js scripts only/],
    ['a script run by npm', { script: 'npm', args: 'start' }, 'apps[0].script', /package manager/],
    ['a shell script', { script: './run.sh' }, 'apps[0].script', /not JavaScript/],
    ['an exec_mode PM2 does not have', { exec_mode: 'swarm' }, 'apps[0].exec_mode', /'cluster' or 'fork'/],
    ['a max_memory_restart PM2 does not take', { max_memory_restart: 'a lot' }, 'apps[0].max_memory_restart', /'300M'/],
  ])('%s', (_what, pm2, keyPath, message) => {
    const error = refusal(pm2);
    expect(error.keyPath).toBe(keyPath);
    expect(error.message).toContain(`Invalid config in ${FILE} at ${keyPath}:`);
    expect(error.message).toMatch(message);
    expect(error.exitCode).toBe(78);
  });

  it("node as the interpreter is fine; another node binary gets a warning (workers run on nsup's Node)", () => {
    expect(convert({ interpreter: 'node' }).keys).toEqual([]);
    expect(convert({ interpreter: '/opt/node18/bin/node' }).keys).toEqual(['apps[0].interpreter']);
  });

  it("a bad value of a mapped key is reported at the PM2 key (and nsup's)", async () => {
    const file = join(dir, 'bad.config.cjs');
    writeFileSync(file, "module.exports = { apps: [{ script: './app.js', exec_mode: 'cluster', kill_timeout: 'soon' }] };\n");
    const error = await loadConfigFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).keyPath).toBe('apps[0].kill_timeout');
    expect((error as Error).message).toContain("at apps[0].kill_timeout (nsup's apps[0].killTimeout): got \"soon\" (string)");
  });
});

describe("PM2's names in an nsup config get a hint", () => {
  it.each([
    [{ apps: [{ script: './app.js', max_memory_restart: '512M' }] }, 'apps[0].max_memory_restart', "it is now maxMemory ('512MB')"],
    [{ apps: [{ script: './app.js', exec_mode: 'cluster' }] }, 'apps[0].exec_mode', 'nsup always runs cluster workers'],
    [{ apps: [{ script: './app.js', env_production: {} }] }, 'apps[0].env_production', 'envs: { production: { … } }, chosen with --env production'],
    [{ apps: [{ script: './app.js' }], deploy: {} }, 'deploy', 'the nsup deploy command'],
    [{ apps: [{ script: './app.js', restart: { min_uptime: 1000 } }] }, 'apps[0].restart.min_uptime', 'restart.minUptime'],
  ])('%j', (raw, keyPath, hint) => {
    const error = (() => {
      try {
        resolveConfig(raw, { file: join(dir, 'supervisor.config.ts'), baseDir: dir });
      } catch (e) {
        return e as ConfigInvalidError;
      }
      throw new Error('expected an error');
    })();
    expect(error.keyPath).toBe(keyPath);
    expect(error.message).toContain(hint);
  });
});

describe('nsup import', () => {
  it('writes a typed config, one key per line, warnings on top, that loads back to the same config', async () => {
    for (const name of ['ecosystem.config.js', 'ecosystem.cluster.config.cjs', 'ecosystem.apps.json']) {
      const { conversion, config } = await loadEcosystem(join(dir, name));
      const text = renderConfig(conversion, name);
      expect(text).toMatch(/^\/\/ Converted from the PM2 file /);
      expect(text).toContain("import { defineConfig } from 'nsup';\n\nexport default defineConfig({\n  apps: [\n    {\n");
      for (const w of conversion.warnings) expect(text).toContain(`//   ${w.message}\n`);
      const out = join(dir, `imported-${name}.config.ts`);
      writeFileSync(out, text);
      const loaded = await loadConfigFile(out);
      expect(loaded.warnings).toBeUndefined();
      expect(loaded.apps).toEqual(config.apps);
    }
  });

  it('refuses a file in nsup format', async () => {
    const file = join(dir, 'supervisor.config.ts');
    writeFileSync(file, "export default { apps: [{ script: './app.js' }] };\n");
    await expect(loadEcosystem(file)).rejects.toThrow(ConfigLoadError);
    await expect(loadEcosystem(file)).rejects.toThrow(/not a PM2 ecosystem file/);
  });
});

describe('issue 16: cron_restart', () => {
  it('becomes recycle with one warning, and 0 (PM2: no cron restart) becomes nothing, silently', () => {
    const { app, keys } = convert({ cron_restart: '0 4 * * *' });
    expect(app.recycle).toBe('0 4 * * *');
    expect(keys).toEqual(['apps[0].cron_restart']);
    for (const off of [0, '0']) {
      const none = convert({ cron_restart: off });
      expect(none.app).not.toHaveProperty('recycle');
      expect(none.keys).toEqual([]);
    }
  });

  it('a bad pattern is refused by the schema, naming the PM2 key it came from', () => {
    writeFileSync(join(dir, 'app.js'), '');
    const { config, origins } = fromPm2({ apps: [{ script: './app.js', cron_restart: '61 * * * *' }] }, { file: join(dir, 'ecosystem.config.js') });
    let error: unknown;
    try {
      resolveConfig(config, { file: join(dir, 'ecosystem.config.js'), baseDir: dir });
    } catch (e) {
      error = inPm2Terms(e, origins);
    }
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).keyPath).toBe('apps[0].cron_restart');
    expect((error as Error).message).toMatch(/at apps\[0\]\.cron_restart \(nsup's apps\[0\]\.recycle\): got "61 \* \* \* \*" \(string\); expected a cron expression/);
  });
});
