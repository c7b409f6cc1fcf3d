// quick-start.ts parses `nsup start` without yargs, so the foreground primary never loads it. It
// must give exactly what yargs gives, or step aside (null) and let yargs parse: checked on the
// common forms (which must take the quick path) and on thousands of random command lines.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startOptions } from '../../src/cli/commands/start.ts';
import { parseArgv } from '../../src/cli/parse.ts';
import { quickStartArgs } from '../../src/cli/quick-start.ts';
import { camel } from '../../src/config/flags.ts';

const KEYS = new Set(['script', '--', ...Object.keys(startOptions).map(camel)]);

/** What the start command reads of yargs' arguments: the camelCase keys, without undefined or an empty `--`. */
function readOf(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(args).filter(([key, value]) => KEYS.has(key) && value !== undefined && !(key === '--' && Array.isArray(value) && value.length === 0)),
  );
}

async function yargsOf(argv: string[]): Promise<Record<string, unknown> | Error> {
  try {
    const { command, args } = await parseArgv(['start', ...argv]);
    if (command !== 'start') return new Error(`parsed as ${command}`);
    return readOf(args);
  } catch (error) {
    return error as Error;
  }
}

describe('quickStartArgs', () => {
  const common: string[][] = [
    [],
    ['app.js'],
    ['app.js', '-i', 'max'],
    ['app.js', '-i', '2', '-d'],
    ['-c', 'supervisor.config.ts', '--daemon'],
    ['--config=x.config.ts', '-n', 'web'],
    ['app.js', '--env', 'A=1', '--env', 'B=2', '--env-file', '.env'],
    ['app.js', '--env', 'production'],
    ['app.js', '--kill-timeout', '5s', '--log-format', 'json', '--log-time', 'off'],
    ['app.js', '--node-args', '--max-old-space-size=512', '-i', '2'],
    ['app.js', '--node-args=--enable-source-maps'],
    ['app.js', '-i', '2', '--', '--port', '3000'],
    ['app.js', '-w', 'src', '--ignore', '*.tmp'],
    ['app.js', '--no-daemon', '--wait-ready'],
    ['app.js', '--listen', '3000', '--listen', '/tmp/x.sock'],
    ['app.js', '--metrics-port', '9100'],
    ['app.js', '--log-file', '/var/log/app.log', '--log-max-size', '10MB', '--log-keep', '5'],
  ];
  for (const argv of common) {
    it(`takes the quick path and agrees with yargs: start ${argv.join(' ')}`, async () => {
      const quick = quickStartArgs(argv);
      expect(quick).not.toBeNull();
      expect(readOf(quick!)).toEqual(await yargsOf(argv));
    });
  }

  it('steps aside for what yargs must answer: help, typos, camelCase, true/false after a boolean, groups', () => {
    for (const argv of [['--help'], ['-h'], ['app.js', '--instance', '2'], ['app.js', '--killTimeout', '2s'], ['app.js', '--daemon', 'false'], ['-di', '2', 'app.js'], ['a.js', 'b.js'], ['app.js', '--name', 'a', '--name', 'b'], ['app.js', '-i']]) {
      expect(quickStartArgs(argv), argv.join(' ')).toBeNull();
    }
  });

  it('on any command line, gives what yargs gives or null; never accepts what yargs rejects', async () => {
    const flags = Object.entries(startOptions).flatMap(([long, o]) => [`--${long}`, ...('alias' in o && o.alias ? [`-${o.alias}`] : []), ...(o.type === 'boolean' ? [`--no-${long}`] : [])]);
    const word = fc.oneof(
      fc.constantFrom(...flags),
      fc.constantFrom(...flags).chain((f) => fc.constantFrom('2', 'x', '-1', 'true', '5s').map((v) => `${f}=${v}`)),
      fc.constantFrom('app.js', 'max', '2', '-1', '1.5', 'A=1', 'production', 'true', 'false', '--', '-x', '--bogus', '--maxMemory', '-dw', 'src', '', '3000', '10MB'),
    );
    let quickTaken = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(word, { maxLength: 8 }), async (argv) => {
        const quick = quickStartArgs(argv);
        if (quick === null) return;
        quickTaken++;
        expect(readOf(quick)).toEqual(await yargsOf(argv));
      }),
      { numRuns: 1500 },
    );
    // The property is only worth something if many random lines take the quick path.
    expect(quickTaken).toBeGreaterThan(150);
  });
});
