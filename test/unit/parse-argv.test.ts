// parseArgv: the `nsup` command line → { command, args }, without running anything.

import { describe, expect, it } from 'vitest';
import { parseArgv } from '../../src/cli/parse.ts';

describe('parseArgv: accepted command lines', () => {
  const matrix: Array<{ argv: string[]; expected: Record<string, unknown>; absent?: string[] }> = [
    { argv: ['start', 'app.js', '-i', 'max'], expected: { script: 'app.js', instances: 'max', i: 'max' } },
    { argv: ['start', 'app.js', '--instances', 'max'], expected: { script: 'app.js', instances: 'max' } },
    // instances is a string option: numbers stay strings, resolveInstances() interprets them.
    { argv: ['start', 'app.js', '-i', '2'], expected: { script: 'app.js', instances: '2' } },
    // Negative values: yargs treats '-1' as the value of a string option in every form.
    { argv: ['start', 'app.js', '-i', '-1'], expected: { script: 'app.js', instances: '-1', i: '-1' } },
    { argv: ['start', 'app.js', '-i=-1'], expected: { script: 'app.js', instances: '-1', i: '-1' } },
    { argv: ['start', 'app.js', '--instances', '-1'], expected: { script: 'app.js', instances: '-1' } },
    { argv: ['start', 'app.js', '--instances=-1'], expected: { script: 'app.js', instances: '-1' } },
    { argv: ['start', 'app.js', '-i', '-1', '-n', 'web'], expected: { instances: '-1', name: 'web' } },
    { argv: ['start', 'app.js', '--env', 'A=1', '--env', 'B=2'], expected: { script: 'app.js', env: ['A=1', 'B=2'] } },
    { argv: ['start', 'app.js', '--env', 'A=1'], expected: { env: ['A=1'] } },
    { argv: ['start', 'app.js', '--env', 'A=1', 'B=2'], expected: { script: 'app.js', env: ['A=1', 'B=2'] } },
    { argv: ['start', 'app.js', '--env', 'X=-1'], expected: { env: ['X=-1'] } },
    { argv: ['start', 'app.js', '--kill-timeout', '2s'], expected: { killTimeout: '2s', 'kill-timeout': '2s' } },
    { argv: ['start', 'app.js', '--kill-timeout=2s'], expected: { killTimeout: '2s' } },
    { argv: ['start', 'app.js', '--listen-timeout', '30s'], expected: { listenTimeout: '30s' } },
    { argv: ['start', 'app.js', '--', '--foo', 'bar'], expected: { script: 'app.js', '--': ['--foo', 'bar'] } },
    {
      argv: ['start', '-n', 'web', '-c', 'x.config.ts'],
      expected: { name: 'web', n: 'web', config: 'x.config.ts', c: 'x.config.ts' },
      absent: ['script'],
    },
    { argv: ['start', '--name', 'web', '--config', 'x.config.ts'], expected: { name: 'web', config: 'x.config.ts' } },
    { argv: ['start'], expected: {}, absent: ['script', 'instances', 'env', '--'] },
    { argv: ['start', 'app.js', '--wait-ready', '--log-format', 'json'], expected: { waitReady: true, logFormat: 'json' } },
    { argv: ['start', 'app.js', '--node-args=--max-old-space-size=512'], expected: { nodeArgs: '--max-old-space-size=512' } },
    // The README's form: the next word is the value although it starts with '-' (issue 17).
    { argv: ['start', 'app.js', '--node-args', '--max-old-space-size=512'], expected: { script: 'app.js', nodeArgs: '--max-old-space-size=512' } },
    { argv: ['start', 'app.js', '--node-args', '--max-old-space-size=512 --enable-source-maps', '-i', '2'], expected: { nodeArgs: '--max-old-space-size=512 --enable-source-maps', instances: '2' } },
    { argv: ['start', '--node-args', '--inspect', 'app.js'], expected: { script: 'app.js', nodeArgs: '--inspect' } },
    { argv: ['start', 'app.js', '--env', 'production', '--env', 'PORT=3000'], expected: { env: ['production', 'PORT=3000'] } },
    { argv: ['start', 'app.js', '--env-file', '.env', '--env-file', '.env.local'], expected: { envFile: ['.env', '.env.local'] } },
    {
      argv: ['start', 'app.js', '-i', '2', '--env', 'PORT=3000', '--', '--app-flag'],
      expected: { script: 'app.js', instances: '2', env: ['PORT=3000'], '--': ['--app-flag'] },
    },
  ];

  it.each(matrix)('$argv', async ({ argv, expected, absent = [] }) => {
    const { command, args } = await parseArgv(argv);
    expect(command).toBe('start');
    expect(args).toMatchObject(expected);
    for (const key of absent) expect(args[key]).toBeUndefined();
  });
});

describe('parseArgv: rejected command lines', () => {
  const matrix: Array<{ argv: string[]; message: RegExp }> = [
    { argv: ['start', 'app.js', '--bogus'], message: /Unknown argument: bogus/ },
    { argv: ['start', 'app.js', '--bogus=1'], message: /Unknown argument: bogus/ },
    { argv: ['start', 'app.js', 'extra'], message: /Unknown argument: extra/ },
    { argv: ['bogus'], message: /Unknown argument: bogus/ },
    { argv: [], message: /Say what to do/ },
    { argv: ['--instances', '2'], message: /Say what to do|Unknown argument/ },
    { argv: ['start', 'app.js', '--node-args'], message: /Not enough arguments following: node-args/ },
  ];

  it.each(matrix)('$argv rejects', async ({ argv, message }) => {
    await expect(parseArgv(argv)).rejects.toThrow(message);
  });
});

describe('parseArgv: arguments after --', () => {
  // Arguments after `--` go to the app verbatim (run-start.ts maps them with String()).
  it('keeps flags and words as given', async () => {
    const { args } = await parseArgv(['start', 'app.js', '--', '--foo', 'bar', '-x', '--']);
    expect(args['--']).toEqual(['--foo', 'bar', '-x', '--']);
  });

  // KNOWN BUG: yargs' 'parse-positional-numbers' (on by default) also turns the `--` arguments that
  // look like numbers into numbers, so the app receives '1.5' for '1.50', '16' for '0x10', '1000'
  // for '1e3'. Fix in src/cli/parse.ts: add 'parse-positional-numbers': false to parserConfiguration.
  // When fixed, this test starts failing: remove `.fails`.
  it('passes number-like app arguments through untouched', async () => {
    const { args } = await parseArgv(['start', 'app.js', '--', '--port', '3000', '--ratio', '1.50', '0x10', '1e3']);
    expect(args['--']).toEqual(['--port', '3000', '--ratio', '1.50', '0x10', '1e3']);
  });
});

describe('parseArgv: nsup run', () => {
  it('takes an app and a job, and --json', async () => {
    const { command, args } = await parseArgv(['run', 'web', 'backup', '--json']);
    expect(command).toBe('run');
    expect(args).toMatchObject({ name: 'web', job: 'backup', json: true });
  });

  it('keeps a number-like job name a string', async () => {
    const { args } = await parseArgv(['run', 'web', 'b2']);
    expect(args).toMatchObject({ name: 'web', job: 'b2' });
    expect(args.json).toBeUndefined();
  });

  it('wants the job name', async () => {
    await expect(parseArgv(['run', 'web'])).rejects.toThrow(/Not enough non-option arguments/);
  });
});
