// resolveConfig / parseDuration / parseSize: defaults, one precise error per bad input, freezing.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration, parseSize, resolveConfig, type ResolveContext } from '../../src/config/schema.ts';
import { ConfigInvalidError } from '../../src/errors.ts';

let dir: string;
let ctx: ResolveContext;
let file: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsup-schema-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'server.js'), '');
  writeFileSync(join(dir, 'worker.mjs'), '');
  writeFileSync(join(dir, 'sub', 'server.js'), '');
  file = join(dir, 'supervisor.config.ts');
  ctx = { file, baseDir: dir };
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs resolveConfig and returns the ConfigInvalidError it throws. */
function invalid(raw: unknown, c: ResolveContext = ctx): ConfigInvalidError {
  try {
    resolveConfig(raw, c);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigInvalidError);
    return err as ConfigInvalidError;
  }
  throw new Error('expected resolveConfig to throw');
}

const app = (extra: Record<string, unknown> = {}) => ({ apps: [{ script: './server.js', ...extra }] });

describe('resolveConfig defaults', () => {
  it('fills in every default', () => {
    const cfg = resolveConfig({ apps: [{ script: './server.js' }] }, ctx);
    expect(cfg.file).toBe(file);
    expect(cfg.metrics).toBeNull();
    expect(cfg.apps).toHaveLength(1);
    const a = cfg.apps[0]!;
    expect(a).toMatchObject({
      name: 'server',
      script: join(dir, 'server.js'),
      args: [],
      nodeArgs: [],
      cwd: dir,
      env: {},
      watch: null,
      restart: { delayMs: 100, maxDelayMs: 15_000, minUptimeMs: 30_000, maxRestarts: Infinity, stopExitCodes: [] },
      killTimeoutMs: 5000,
      listenTimeoutMs: 10_000,
      readyWhen: 'listening',
      listen: [],
      killSignal: 'SIGTERM',
      logs: { format: 'text', time: null, file: null, errorFile: null, rotate: { sizeBytes: 10 * 1024 * 1024, every: null, keep: 10, compress: false } },
      maxMemoryBytes: null,
    });
    expect(a.instances).toBeGreaterThanOrEqual(1);
    expect(a.instancesSource).toMatch(/^max: /);
  });

  it('resolves explicit values', () => {
    const cfg = resolveConfig(
      {
        apps: [
          {
            name: 'api.v2',
            script: 'server.js',
            cwd: 'sub',
            instances: 3,
            args: ['--port', '3000'],
            nodeArgs: ['--max-old-space-size=512'],
            env: { NODE_ENV: 'production', PORT: 3000, DEBUG: false },
            watch: { paths: ['lib'], ignore: ['*.log'], debounce: '1s' },
            restart: { delay: '1s', maxDelay: 60_000, minUptime: '2m', maxRestarts: 0 },
            killTimeout: '500ms',
            listenTimeout: 250,
            waitReady: true,
            logFormat: 'json',
            logTime: 'local',
            logFile: 'logs/api.log',
            errorFile: '/dev/null',
            logRotate: { size: '1MB', every: '1d', keep: 3, compress: true },
            maxMemory: '512MB',
          },
        ],
        metrics: { port: 9209 },
      },
      ctx,
    );
    const a = cfg.apps[0]!;
    expect(a.name).toBe('api.v2');
    expect(a.cwd).toBe(join(dir, 'sub'));
    expect(a.script).toBe(join(dir, 'sub', 'server.js'));
    expect(a.instances).toBe(3);
    expect(a.instancesSource).toContain('explicit');
    expect(a.env).toEqual({ NODE_ENV: 'production', PORT: '3000', DEBUG: 'false' });
    expect(a.watch).toEqual({ paths: [join(dir, 'sub', 'lib')], ignore: ['*.log'], debounceMs: 1000 });
    expect(a.restart).toEqual({ delayMs: 1000, maxDelayMs: 60_000, minUptimeMs: 120_000, maxRestarts: 0, stopExitCodes: [] });
    expect(a.killTimeoutMs).toBe(500);
    expect(a.listenTimeoutMs).toBe(250);
    expect(a.readyWhen).toBe('ready');
    expect(a.logs).toEqual({ format: 'json', time: 'local', file: join(dir, 'sub', 'logs', 'api.log'), errorFile: '/dev/null', rotate: { sizeBytes: 1024 * 1024, every: '1d', keep: 3, compress: true } });
    expect(a.maxMemoryBytes).toBe(536_870_912);
    expect(cfg.metrics).toEqual({ port: 9209, host: '127.0.0.1', dashboard: false });
  });

  it('watch: true watches the script folder with a 300ms debounce', () => {
    const a = resolveConfig(app({ watch: true }), ctx).apps[0]!;
    expect(a.watch).toEqual({ paths: [dir], ignore: [], debounceMs: 300 });
    const b = resolveConfig(app({ watch: { ignore: ['tmp'] } }), ctx).apps[0]!;
    expect(b.watch).toEqual({ paths: [dir], ignore: ['tmp'], debounceMs: 300 });
  });

  it('names default to the script file name without extension; -1 instances accepted', () => {
    const cfg = resolveConfig({ apps: [{ script: './server.js' }, { script: './worker.mjs', instances: -1 }] }, ctx);
    expect(cfg.apps.map((a) => a.name)).toEqual(['server', 'worker']);
    expect(cfg.apps[1]!.instances).toBeGreaterThanOrEqual(1);
  });

  it('deep-freezes the result', () => {
    const cfg = resolveConfig(app({ args: ['a'], watch: true, env: { A: 1 } }), ctx);
    const a = cfg.apps[0]!;
    for (const obj of [cfg, cfg.apps, a, a.args, a.nodeArgs, a.env, a.restart, a.watch, a.watch!.paths]) {
      expect(Object.isFrozen(obj)).toBe(true);
    }
    expect(() => {
      (a.restart as { delayMs: number }).delayMs = 1;
    }).toThrow(TypeError);
  });
});

describe('resolveConfig errors', () => {
  it('is a ConfigInvalidError with exit code 78, the key path and the exact message', () => {
    const err = invalid(app({ restart: { delay: '5 parsecs' } }));
    expect(err.exitCode).toBe(78);
    expect(err.code).toBe('NSUP_ERR_CONFIG_INVALID');
    expect(err.keyPath).toBe('apps[0].restart.delay');
    expect(err.message).toBe(
      `Invalid config in ${file} at apps[0].restart.delay: got "5 parsecs" (string); ` +
        `expected a duration like '500ms', '5s', '2m' or a number of milliseconds.`,
    );
  });

  it('says "command line" when there is no file', () => {
    const err = invalid(app({ instances: 'lots' }), { file: null, baseDir: dir });
    expect(err.message).toContain('command line');
    expect(err.message).toMatch(/^Invalid config on the command line at apps\[0\]\.instances: /);
  });

  it.each([
    ['lots', '"lots" (string)'],
    [1.5, '1.5 (number)'],
    [0, '0 (number)'],
    [-2, '-2 (number)'],
    [Number.NaN, 'NaN (number)'],
  ])('rejects instances %s', (value, got) => {
    const err = invalid(app({ instances: value }));
    expect(err.keyPath).toBe('apps[0].instances');
    expect(err.message).toBe(`Invalid config in ${file} at apps[0].instances: got ${got}; expected 'max', -1, or a positive integer.`);
  });

  it('rejects an unknown top-level key with a suggestion', () => {
    const err = invalid({ ...app(), metric: { port: 1 } });
    expect(err.keyPath).toBe('metric');
    expect(err.message).toBe(`Invalid config in ${file} at metric: unknown key; did you mean 'metrics'? Accepted keys: apps, metrics.`);
  });

  it('rejects an unknown app key with a suggestion and the accepted keys', () => {
    const err = invalid({ apps: [{ script: './server.js' }, { script: './worker.mjs', instancs: 2 }] });
    expect(err.keyPath).toBe('apps[1].instancs');
    expect(err.message).toMatch(
      /at apps\[1\]\.instancs: unknown key; did you mean 'instances'\? Accepted keys: name, script, instances, args, nodeArgs, cwd, env, envs, envFile, instanceVar, incrementVar, watch, restart, /,
    );
  });

  it('rejects unknown restart / watch / metrics keys', () => {
    const restart = invalid(app({ restart: { maxDelya: '1s' } }));
    expect(restart.keyPath).toBe('apps[0].restart.maxDelya');
    expect(restart.message).toContain(
      "unknown key; did you mean 'maxDelay'? Accepted keys: delay, maxDelay, minUptime, maxRestarts, stopExitCodes.",
    );
    const watch = invalid(app({ watch: { path: ['src'] } }));
    expect(watch.keyPath).toBe('apps[0].watch.path');
    expect(watch.message).toContain("did you mean 'paths'?");
    const metrics = invalid({ ...app(), metrics: { port: 1, interface: 'x' } });
    expect(metrics.keyPath).toBe('metrics.interface');
    expect(metrics.message).toContain('unknown key; Accepted keys: port, host, dashboard.');
  });

  it('rejects bad log keys, names the key that replaced jsonLogs, and turns logRotate off with false', () => {
    expect(invalid(app({ logFormat: 'pretty' })).message).toBe(`Invalid config in ${file} at apps[0].logFormat: got "pretty" (string); expected 'text' or 'json'.`);
    expect(invalid(app({ logTime: 'utc' })).message).toContain("expected 'iso', 'local' or 'off'");
    expect(invalid(app({ logRotate: { every: '5m' } })).keyPath).toBe('apps[0].logRotate.every');
    expect(invalid(app({ logRotate: { keep: 0 } })).message).toContain('at apps[0].logRotate.keep: got 0 (number); expected a positive integer');
    expect(invalid(app({ logFile: '' })).keyPath).toBe('apps[0].logFile');
    expect(invalid(app({ jsonLogs: true })).message).toContain("at apps[0].jsonLogs: unknown key; it is now logFormat: 'json' (--log-format json).");
    expect(resolveConfig(app({ logRotate: false }), ctx).apps[0]!.logs.rotate).toBeNull();
  });

  it('rejects a non-object config and apps that is not a non-empty array', () => {
    expect(invalid([]).message).toBe(
      `Invalid config in ${file} at the top level: got [] (array); expected an object like { apps: [{ script: './server.js' }] }.`,
    );
    const obj = invalid({ apps: { web: { script: './server.js' } } });
    expect(obj.keyPath).toBe('apps');
    expect(obj.message).toBe(
      `Invalid config in ${file} at apps: got {…} (object); expected an array of apps, e.g. apps: [{ script: './server.js' }].`,
    );
    const empty = invalid({ apps: [] });
    expect(empty.keyPath).toBe('apps');
    expect(empty.message).toContain('got [] (array); expected at least one app');
    expect(invalid({}).message).toContain('at apps: got nothing (the key is missing); expected an array of apps');
    expect(invalid({ apps: ['./server.js'] }).message).toContain(
      `at apps[0]: got "./server.js" (string); expected an app object like { script: './server.js' }.`,
    );
  });

  it('rejects wrong types', () => {
    const args = invalid(app({ args: '--port 3000' }));
    expect(args.keyPath).toBe('apps[0].args');
    expect(args.message).toContain(`got "--port 3000" (string); expected an array of strings, e.g. ['--port', '3000'].`);
    expect(invalid(app({ args: ['--port', 3000] })).keyPath).toBe('apps[0].args[1]');
    const wait = invalid(app({ waitReady: 'yes' }));
    expect(wait.keyPath).toBe('apps[0].waitReady');
    expect(wait.message).toContain('got "yes" (string); expected true or false.');
    expect(invalid(app({ restart: { maxRestarts: -1 } })).message).toContain(
      'at apps[0].restart.maxRestarts: got -1 (number); expected a non-negative integer or Infinity.',
    );
    expect(invalid(app({ instances: null })).message).toContain('got null (null)');
    expect(invalid({ apps: [{}] }).message).toContain('at apps[0].script: got nothing (the key is missing)');
  });

  it('rejects a missing script, naming the resolved path', () => {
    const err = invalid({ apps: [{ script: './missing.js' }] });
    expect(err.keyPath).toBe('apps[0].script');
    expect(err.message).toBe(
      `Invalid config in ${file} at apps[0].script: file not found: ${join(dir, 'missing.js')} ` +
        `(resolved from './missing.js' against ${dir}). Fix the path or set cwd.`,
    );
    expect(invalid({ apps: [{ script: './sub' }] }).message).toContain(`not a file: ${join(dir, 'sub')}`);
    expect(invalid(app({ cwd: './nope' })).message).toContain(`at apps[0].cwd: directory not found: ${join(dir, 'nope')}`);
  });

  it('issue 11: readyWhen, listen and killSignal', () => {
    const resolved = (extra: Record<string, unknown>) => resolveConfig(app(extra), ctx).apps[0]!;
    expect(resolved({ readyWhen: 'online' }).readyWhen).toBe('online');
    expect(resolved({ waitReady: true, readyWhen: 'ready' }).readyWhen).toBe('ready');
    expect(resolved({ listen: [3000, '127.0.0.1:9000', './app.sock', '8080'] }).listen).toEqual([':3000', '127.0.0.1:9000', join(dir, 'app.sock'), ':8080']);
    expect(resolved({ killSignal: 'SIGINT' }).killSignal).toBe('SIGINT');
    expect(invalid(app({ readyWhen: 'up' })).message).toContain(`at apps[0].readyWhen: got "up" (string); expected 'listening', 'ready' or 'online'.`);
    expect(invalid(app({ waitReady: true, readyWhen: 'online' })).message).toContain(`at apps[0].waitReady: waitReady: true means readyWhen: 'ready', but readyWhen is 'online'`);
    expect(invalid(app({ listen: [3000], readyWhen: 'online' })).keyPath).toBe('apps[0].listen');
    expect(invalid(app({ listen: [70000] })).keyPath).toBe('apps[0].listen[0]');
    expect(invalid(app({ listen: 3000 })).message).toContain('expected an array of addresses');
    expect(invalid(app({ killSignal: 'SIGKILL' })).message).toContain(`expected 'SIGTERM' or 'SIGINT'.`);
  });

  it('rejects duplicate and invalid names', () => {
    const err = invalid({ apps: [{ script: './server.js' }, { script: './sub/server.js' }] });
    expect(err.keyPath).toBe('apps[1].name');
    expect(err.message).toContain('duplicate app name "server" (from the script file name); apps[0] has it too.');
    const named = invalid({ apps: [{ name: 'web', script: './server.js' }, { name: 'web', script: './worker.mjs' }] });
    expect(named.keyPath).toBe('apps[1].name');
    expect(invalid(app({ name: 'my app' })).keyPath).toBe('apps[0].name');
    expect(invalid(app({ name: '-x' })).keyPath).toBe('apps[0].name');
  });

  it('rejects a bad env value type', () => {
    const err = invalid(app({ env: { PORT: 3000, OPTS: { a: 1 } } }));
    expect(err.keyPath).toBe('apps[0].env.OPTS');
    expect(err.message).toContain('got {…} (object); expected a string, number or boolean.');
    expect(invalid(app({ env: ['A=1'] })).keyPath).toBe('apps[0].env');
  });

  it('rejects a bad size', () => {
    const err = invalid(app({ maxMemory: '512 parsecs' }));
    expect(err.keyPath).toBe('apps[0].maxMemory');
    expect(err.message).toContain(`got "512 parsecs" (string); expected a size like '512MB', '1GB', '100KB' or a positive integer of bytes.`);
  });

  it('rejects a metrics port out of range or missing', () => {
    const err = invalid({ ...app(), metrics: { port: 70000 } });
    expect(err.keyPath).toBe('metrics.port');
    expect(err.message).toBe(`Invalid config in ${file} at metrics.port: got 70000 (number); expected an integer port from 0 to 65535.`);
    expect(invalid({ ...app(), metrics: {} }).message).toContain('at metrics.port: got nothing (the key is missing)');
    expect(invalid({ ...app(), metrics: { port: 1, host: '' } }).keyPath).toBe('metrics.host');
  });

  it('renders long values compactly', () => {
    const long = 'x'.repeat(200);
    const err = invalid(app({ killTimeout: long }));
    const got = /got (.*) \(string\)/.exec(err.message)![1]!;
    expect(got.length).toBeLessThanOrEqual(60);
    expect(got.endsWith('…"')).toBe(true);
    expect(invalid(app({ instances: [2] })).message).toContain('got [2] (array)');
  });
});

describe('parseDuration / parseSize', () => {
  it('parses durations', () => {
    expect(parseDuration('500ms', 'k', 'f')).toBe(500);
    expect(parseDuration('2m', 'k', 'f')).toBe(120_000);
    expect(parseDuration('5s', 'k', 'f')).toBe(5000);
    expect(parseDuration(250, 'k', 'f')).toBe(250);
    expect(parseDuration(0, 'k', 'f')).toBe(0);
    for (const bad of ['5 parsecs', '', '-5s', -1, Infinity, Number.NaN, true, null, {}]) {
      expect(() => parseDuration(bad, 'x.y', '/cfg.ts')).toThrow(ConfigInvalidError);
    }
    expect(() => parseDuration('soon', 'restart.delay', '/cfg.ts')).toThrow(
      `Invalid config in /cfg.ts at restart.delay: got "soon" (string); expected a duration like '500ms', '5s', '2m' or a number of milliseconds.`,
    );
  });

  it('parses sizes', () => {
    expect(parseSize('512MB', 'k', 'f')).toBe(536_870_912);
    expect(parseSize('1GB', 'k', 'f')).toBe(1024 ** 3);
    expect(parseSize('100kb', 'k', 'f')).toBe(102_400);
    expect(parseSize('1.5 gb', 'k', 'f')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('64B', 'k', 'f')).toBe(64);
    expect(parseSize(4096, 'k', 'f')).toBe(4096);
    for (const bad of ['lots', '1TB', '', '0MB', 0, -1, 1.5, '-1MB', null]) {
      expect(() => parseSize(bad, 'maxMemory', 'f')).toThrow(ConfigInvalidError);
    }
  });
});

describe('issue 16: jobs, singleton, maxRequests, recycle', () => {
  const resolved = (extra: Record<string, unknown>) => resolveConfig(app(extra), ctx).apps[0]!;
  const job = (extra: Record<string, unknown> = {}) => ({ name: 'backup', schedule: '0 4 * * *', script: './worker.mjs', ...extra });
  const CRON = "a cron expression: 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. '0 4 * * *' or '*/10 * * * * *'";

  it('defaults: no jobs, not a singleton, maxRequests off, no jitter, no recycle', () => {
    expect(resolved({})).toMatchObject({ jobs: [], singleton: false, maxRequests: null, maxRequestsJitter: 0, recycle: null });
  });

  it('resolves a job: script against the app cwd, nodeArgs inherited from the app, timeout in ms, defaults', () => {
    const a = resolved({ cwd: 'sub', script: 'server.js', nodeArgs: ['--no-warnings'], jobs: [job({ script: './server.js', timezone: 'Europe/Paris' }), job({ name: 'sync', schedule: '*/10 * * * * *', script: 'server.js', args: ['--full'], nodeArgs: [], env: { A: 1 }, timeout: '2m', overlap: 'queue' })] });
    expect(a.jobs).toEqual([
      { name: 'backup', schedule: '0 4 * * *', timezone: 'Europe/Paris', script: join(dir, 'sub', 'server.js'), args: [], nodeArgs: ['--no-warnings'], env: {}, timeoutMs: null, overlap: 'skip' },
      { name: 'sync', schedule: '*/10 * * * * *', timezone: null, script: join(dir, 'sub', 'server.js'), args: ['--full'], nodeArgs: [], env: { A: '1' }, timeoutMs: 120_000, overlap: 'queue' },
    ]);
    // Plain data: nsup deploy sends it as JSON.
    expect(JSON.parse(JSON.stringify(a.jobs))).toEqual(a.jobs);
  });

  it('rejects jobs that are not an array, duplicate names and bad names, with the exact messages', () => {
    expect(invalid(app({ jobs: { backup: {} } })).message).toBe(
      `Invalid config in ${file} at apps[0].jobs: got {…} (object); expected an array of jobs, e.g. [{ name: 'backup', schedule: '0 4 * * *', script: './jobs/backup.js' }].`,
    );
    const dup = invalid(app({ jobs: [job(), job({ schedule: '0 5 * * *' })] }));
    expect(dup.keyPath).toBe('apps[0].jobs[1].name');
    expect(dup.message).toBe(`Invalid config in ${file} at apps[0].jobs[1].name: duplicate job name "backup"; jobs[0] has it too. Set a distinct name.`);
    for (const name of ['1st', 'a b', '', undefined]) {
      const err = invalid(app({ jobs: [job({ name })] }));
      expect(err.keyPath).toBe('apps[0].jobs[0].name');
      expect(err.message).toMatch(/; expected a job name of letters, digits, '\.', '_' and '-', starting with a letter\.$/);
    }
    expect(invalid(app({ jobs: ['backup'] })).message).toContain("at apps[0].jobs[0]: got \"backup\" (string); expected a job object like { name: 'backup'");
    const unknown = invalid(app({ jobs: [job({ cron: '* * * * *' })] }));
    expect(unknown.keyPath).toBe('apps[0].jobs[0].cron');
    expect(unknown.message).toContain('Accepted keys: name, schedule, timezone, script, args, nodeArgs, env, timeout, overlap.');
  });

  it.each([
    ['61 * * * *', `${CRON} (croner: Invalid value for minute: 61)`],
    ['2027-01-01T00:00', `${CRON}, not a date: a job runs on a schedule`],
    ['@reboot', `${CRON}; '@reboot' is not supported: for work at start use a primary hook (docs/primary-hooks.md)`],
    ['0 0 30 2 *', `${CRON} that matches a date: '0 0 30 2 *' never does; fix the expression`],
  ])('rejects the job schedule %s', (schedule, expected) => {
    const err = invalid(app({ jobs: [job({ schedule })] }));
    expect(err.keyPath).toBe('apps[0].jobs[0].schedule');
    expect(err.message).toBe(`Invalid config in ${file} at apps[0].jobs[0].schedule: got ${JSON.stringify(schedule)} (string); expected ${expected}.`);
  });

  it('rejects a bad time zone, a missing job script, a bad timeout, overlap, env and args', () => {
    expect(invalid(app({ jobs: [job({ timezone: 'Mars/Olympus' })] })).message).toBe(
      `Invalid config in ${file} at apps[0].jobs[0].timezone: got "Mars/Olympus" (string); expected an IANA time zone such as 'Europe/Paris' or 'UTC'.`,
    );
    const script = invalid(app({ jobs: [job({ script: './jobs/backup.js' })] }));
    expect(script.keyPath).toBe('apps[0].jobs[0].script');
    expect(script.message).toBe(
      `Invalid config in ${file} at apps[0].jobs[0].script: file not found: ${join(dir, 'jobs', 'backup.js')} (resolved from './jobs/backup.js' against ${dir}). Fix the path or set cwd.`,
    );
    expect(invalid(app({ jobs: [job({ script: './sub' })] })).message).toContain(`at apps[0].jobs[0].script: not a file: ${join(dir, 'sub')}`);
    expect(invalid(app({ jobs: [job({ script: undefined })] })).message).toContain('at apps[0].jobs[0].script: got nothing (the key is missing)');
    expect(invalid(app({ jobs: [job({ timeout: 'soon' })] })).message).toContain("at apps[0].jobs[0].timeout: got \"soon\" (string); expected a duration like '500ms'");
    expect(invalid(app({ jobs: [job({ timeout: 0 })] })).message).toContain("at apps[0].jobs[0].timeout: got 0 (number); expected a duration above 0 like '30s' or '10m', or 'off'.");
    expect(resolved({ jobs: [job({ timeout: 'off' })] }).jobs[0]!.timeoutMs).toBeNull();
    expect(invalid(app({ jobs: [job({ overlap: 'parallel' })] })).message).toContain(`at apps[0].jobs[0].overlap: got "parallel" (string); expected 'skip' or 'queue'.`);
    expect(invalid(app({ jobs: [job({ env: { TOKEN: { a: 1 } } })] })).message).toContain('at apps[0].jobs[0].env.TOKEN: got {…} (object); expected a string, number or boolean.');
    expect(invalid(app({ jobs: [job({ args: '--full' })] })).keyPath).toBe('apps[0].jobs[0].args');
    expect(invalid(app({ jobs: [job({ nodeArgs: [1] })] })).keyPath).toBe('apps[0].jobs[0].nodeArgs[0]');
  });

  it('singleton: one worker; instances other than 1 is an error naming instances', () => {
    expect(resolved({ singleton: true })).toMatchObject({ singleton: true, instances: 1, instancesSource: 'singleton: true' });
    expect(resolved({ singleton: true, instances: 1 }).instances).toBe(1);
    const err = invalid(app({ singleton: true, instances: 4 }));
    expect(err.keyPath).toBe('apps[0].instances');
    expect(err.message).toBe(`Invalid config in ${file} at apps[0].instances: singleton: true runs exactly one worker, but instances is 4. Remove instances or set it to 1.`);
    expect(invalid(app({ singleton: true, instances: 'max' })).message).toContain("but instances is 'max'.");
    expect(invalid(app({ singleton: 'yes' })).message).toContain('at apps[0].singleton: got "yes" (string); expected true or false.');
  });

  it('maxRequests and maxRequestsJitter', () => {
    expect(resolved({ maxRequests: 1000, maxRequestsJitter: 200 })).toMatchObject({ maxRequests: 1000, maxRequestsJitter: 200 });
    expect(resolved({ maxRequests: 'off' }).maxRequests).toBeNull();
    for (const bad of [0, -1, 1.5, '1000', Number.NaN, Infinity]) {
      const err = invalid(app({ maxRequests: bad }));
      expect(err.keyPath).toBe('apps[0].maxRequests');
      expect(err.message).toMatch(/; expected a positive integer of requests, e.g\. 1000, or 'off'\.$/);
    }
    expect(invalid(app({ maxRequests: 1000, maxRequestsJitter: -1 })).message).toBe(
      `Invalid config in ${file} at apps[0].maxRequestsJitter: got -1 (number); expected a non-negative integer of requests, e.g. 100.`,
    );
    expect(invalid(app({ maxRequestsJitter: 50 })).message).toBe(
      `Invalid config in ${file} at apps[0].maxRequestsJitter: maxRequestsJitter adds to maxRequests, which is not set. Set maxRequests (e.g. 1000) or remove maxRequestsJitter.`,
    );
    expect(resolved({ maxRequestsJitter: 0 }).maxRequestsJitter).toBe(0);
  });

  it('recycle: a cron expression, { schedule, timezone }, or off', () => {
    expect(resolved({ recycle: '0 4 * * *' }).recycle).toEqual({ schedule: '0 4 * * *', timezone: null });
    expect(resolved({ recycle: { schedule: '0 4 * * *', timezone: 'UTC' } }).recycle).toEqual({ schedule: '0 4 * * *', timezone: 'UTC' });
    expect(resolved({ recycle: 'off' }).recycle).toBeNull();
    expect(resolved({ recycle: false }).recycle).toBeNull();
    expect(invalid(app({ recycle: '61 * * * *' })).message).toBe(
      `Invalid config in ${file} at apps[0].recycle: got "61 * * * *" (string); expected ${CRON} (croner: Invalid value for minute: 61).`,
    );
    const nested = invalid(app({ recycle: { schedule: '@reboot' } }));
    expect(nested.keyPath).toBe('apps[0].recycle.schedule');
    expect(invalid(app({ recycle: { schedule: '0 4 * * *', timezone: 'Nowhere' } })).keyPath).toBe('apps[0].recycle.timezone');
    expect(invalid(app({ recycle: { schedule: '0 4 * * *', tz: 'UTC' } })).message).toContain('Accepted keys: schedule, timezone.');
    expect(invalid(app({ recycle: 42 })).message).toBe(
      `Invalid config in ${file} at apps[0].recycle: got 42 (number); expected a cron expression such as '0 4 * * *', an object like { schedule: '0 4 * * *', timezone: 'Europe/Paris' }, or 'off'.`,
    );
    expect(invalid(app({ recycle: '' })).keyPath).toBe('apps[0].recycle');
  });

  it("PM2's cron_restart in an nsup config says it is now recycle", () => {
    expect(invalid(app({ cron_restart: '0 4 * * *' })).message).toContain("unknown key; it is now recycle ('0 4 * * *'): a rolling reload on a schedule, never a restart.");
  });

  it('is deep-frozen with the rest', () => {
    const a = resolved({ jobs: [job()], recycle: '0 4 * * *' });
    expect(Object.isFrozen(a.jobs[0])).toBe(true);
    expect(Object.isFrozen(a.recycle)).toBe(true);
  });
});
