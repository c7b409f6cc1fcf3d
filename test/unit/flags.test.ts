// config/flags.ts: one table (schema.ts) drives the start flags, the overrides and the error's flag name.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgv } from '../../src/cli/parse.ts';
import { configFlagOptions, configFromFlags, flagForKeyPath, overridesFromFlags } from '../../src/config/flags.ts';
import { APP, LOG_ROTATE, METRICS, WATCH } from '../../src/config/schema.ts';
import { ConfigInvalidError } from '../../src/errors.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsup-flags-'));
  writeFileSync(join(dir, 'server.js'), '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = async (...argv: string[]) => (await parseArgv(['start', ...argv])).args as Record<string, unknown>;

describe('start flags come from the schema tables', () => {
  it('every flag declared in a table is a yargs option, and nothing else is', () => {
    const declared = [APP, WATCH, LOG_ROTATE, METRICS].flatMap((table) => Object.values(table).flatMap((f) => (f.flag ? [f.flag.flag] : [])));
    expect(Object.keys(configFlagOptions())).toEqual(declared);
    expect(declared).toEqual(expect.arrayContaining(['ready-when', 'listen', 'kill-signal', 'instances', 'watch', 'ignore', 'metrics-port']));
  });

  it("the README's flag table lists every flag of start", async () => {
    const { startOptions } = await import('../../src/cli/commands/start.ts');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('| flag | meaning | default |'), readme.indexOf('## Config reference'));
    for (const flag of Object.keys(startOptions)) expect(table, `--${flag} missing from the README's table`).toMatch(new RegExp(`--${flag}(?![\\w-])`));
  });

  it('turns given flags into raw config values, nested where the key is', async () => {
    const args = await start('app.js', '-i', '2', '--env', 'A=1', '--ready-when', 'online', '--listen', '3000', '--listen', './s.sock', '--kill-signal', 'SIGINT', '--ignore', '*.tmp', '--metrics-port', '0', '--', '--x');
    const { app, top, run } = overridesFromFlags(args);
    expect(app).toEqual({ instances: 2, readyWhen: 'online', listen: [3000, './s.sock'], killSignal: 'SIGINT', watch: { ignore: ['*.tmp'] }, args: ['--x'] });
    expect(top).toEqual({ metrics: { port: 0 } });
    // --env is a choice for the whole run (a set's name, and variables above every layer), not each app's env key.
    expect(run).toEqual({ env: { name: null, vars: { A: '1' } } });
    expect(overridesFromFlags(await start('app.js'))).toEqual({ app: {}, top: {}, run: {} });
    const logs = overridesFromFlags(await start('app.js', '--log-format', 'json', '--log-time', 'local', '--log-file', 'out.log', '--error-file', '/dev/null', '--log-max-size', '4KB', '--log-keep', '3', '--log-rotate', '1d', '--log-compress'));
    expect(logs.app).toEqual({ logFormat: 'json', logTime: 'local', logFile: 'out.log', errorFile: '/dev/null', logRotate: { size: '4KB', keep: 3, every: '1d', compress: true } });
  });

  it('flags win over a config file; objects merge one level deep', async () => {
    const file = join(dir, 'supervisor.config.mjs');
    writeFileSync(file, `export default { apps: [{ name: 'web', script: './server.js', env: { A: 'file', B: 'file' }, killSignal: 'SIGINT' }], metrics: { port: 9209, host: '0.0.0.0' } };`);
    const config = await configFromFlags(await start('-c', file, '--env', 'A=flag', '--kill-signal', 'SIGTERM', '--metrics-host', '127.0.0.1'));
    expect(config.apps[0]!.env).toEqual({ A: 'flag', B: 'file' });
    expect(config.apps[0]!.killSignal).toBe('SIGTERM');
    expect(config.metrics).toEqual({ port: 9209, host: '127.0.0.1', dashboard: false });
  });

  it('an invalid flag value names the flag, not the key path', async () => {
    const error = await configFromFlags(await start(join(dir, 'server.js'), '--ready-when', 'soon')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as Error).message).toMatch(/^Invalid config on the command line at --ready-when: got "soon" \(string\); expected 'listening', 'ready' or 'online'\.$/);
    expect(flagForKeyPath('apps[0].watch.ignore[1]')).toBe('--ignore');
    expect(flagForKeyPath('apps[3].killTimeout')).toBe('--kill-timeout');
    expect(flagForKeyPath('metrics.port')).toBe('--metrics-port');
    expect(flagForKeyPath('apps[0].restart.delay')).toBeUndefined();
  });
});

describe('issue 16 flags: --singleton, --max-requests, --max-requests-jitter, --recycle', () => {
  it('become the app keys', async () => {
    const { app } = overridesFromFlags(await start('app.js', '--singleton', '--max-requests', '1000', '--max-requests-jitter', '50', '--recycle', '0 4 * * *'));
    expect(app).toEqual({ singleton: true, maxRequests: 1000, maxRequestsJitter: 50, recycle: '0 4 * * *' });
    const config = await configFromFlags(await start(join(dir, 'server.js'), '--singleton', '--max-requests', '1000', '--max-requests-jitter', '50', '--recycle', '*/10 * * * * *'));
    expect(config.apps[0]).toMatchObject({ singleton: true, instances: 1, maxRequests: 1000, maxRequestsJitter: 50, recycle: { schedule: '*/10 * * * * *', timezone: null } });
  });

  it('errors name the flag: --singleton -i 2 names --instances, a bad --recycle names --recycle', async () => {
    const singleton = await configFromFlags(await start(join(dir, 'server.js'), '--singleton', '-i', '2')).catch((e: unknown) => e);
    expect((singleton as Error).message).toBe('Invalid config on the command line at --instances: singleton: true runs exactly one worker, but instances is 2. Remove instances or set it to 1.');
    const recycle = await configFromFlags(await start(join(dir, 'server.js'), '--recycle', '@reboot')).catch((e: unknown) => e);
    expect((recycle as Error).message).toMatch(/^Invalid config on the command line at --recycle: got "@reboot" \(string\); expected a cron expression: .*'@reboot' is not supported/);
    const jitter = await configFromFlags(await start(join(dir, 'server.js'), '--max-requests-jitter', '5')).catch((e: unknown) => e);
    expect((jitter as Error).message).toMatch(/^Invalid config on the command line at --max-requests-jitter: maxRequestsJitter adds to maxRequests, which is not set\./);
    const requests = await configFromFlags(await start(join(dir, 'server.js'), '--max-requests', '0')).catch((e: unknown) => e);
    expect((requests as Error).message).toMatch(/^Invalid config on the command line at --max-requests: got 0 \(number\); expected a positive integer of requests/);
  });
});
