// Issue 17: an app's environment. The layers and their one precedence (env files < env < the named
// set < --env KEY=VALUE, all above the supervisor's own env), the --env flag's two meanings,
// instanceVar/incrementVar, and no env value in any message.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgv } from '../../src/cli/parse.ts';
import { envChoice } from '../../src/config/env.ts';
import { configFromFlags } from '../../src/config/flags.ts';
import { resolveConfig, type RunChoices } from '../../src/config/schema.ts';
import { slotVars } from '../../src/worker/spawn.ts';
import { ConfigInvalidError, UsageError } from '../../src/errors.ts';

const SECRET = 'hunter2-d41d8cd98f00';
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsup-env-'));
  writeFileSync(join(dir, 'server.js'), '');
  writeFileSync(join(dir, '.env'), 'A=file\nB=file\nC=file\nD=file\n# a comment\nQUOTED="two words"\nexport EXPORTED=yes\n');
  writeFileSync(join(dir, '.env.local'), 'B=local\nC=local\nD=local\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const resolve1 = (app: Record<string, unknown>, run?: RunChoices, more: Record<string, unknown>[] = []) =>
  resolveConfig({ apps: [{ script: './server.js', instances: 1, ...app }, ...more] }, { file: join(dir, 'supervisor.config.ts'), baseDir: dir, ...(run ? { run } : {}) });
const invalid = (app: Record<string, unknown>, run?: RunChoices, more?: Record<string, unknown>[]): ConfigInvalidError => {
  try {
    resolve1(app, run, more);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect((error as ConfigInvalidError).exitCode).toBe(78);
    return error as ConfigInvalidError;
  }
  throw new Error('expected a ConfigInvalidError');
};

describe('--env: a word with = is a variable, one without names the set', () => {
  it('splits variables from the set name', () => {
    expect(envChoice(['production', 'PORT=3000', 'X=a=b', 'EMPTY='])).toEqual({ name: 'production', vars: { PORT: '3000', X: 'a=b', EMPTY: '' } });
    expect(envChoice(['A=1'])).toEqual({ name: null, vars: { A: '1' } });
    expect(envChoice(['production', 'production'])).toEqual({ name: 'production', vars: {} });
  });

  it('more than one name is a usage error naming them; a word starting with = is one without echoing it', () => {
    expect(() => envChoice(['production', 'staging'])).toThrow(UsageError);
    expect(() => envChoice(['production', 'app.js'])).toThrow(/one env set for the run, got 'production', 'app\.js'/);
    const error = (() => {
      try {
        envChoice([`=${SECRET}`]);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error!.message).not.toContain(SECRET);
  });
});

describe('one precedence: env files (in order) < env < the named set < --env KEY=VALUE', () => {
  it('each level overrides the one below', () => {
    const [a] = resolve1(
      { envFile: ['.env', '.env.local'], env: { C: 'env', D: 'env', E: 'env' }, envs: { production: { D: 'set', E: 'set', F: 'set' }, staging: { D: 'staging' } } },
      { env: { name: 'production', vars: { E: 'cli' } } },
    ).apps;
    expect(a!.env).toEqual({ A: 'file', B: 'local', C: 'env', D: 'set', E: 'cli', F: 'set', QUOTED: 'two words', EXPORTED: 'yes' });
    expect(a!.envSet).toBe('production');
    expect(a!.envFiles).toEqual([join(dir, '.env'), join(dir, '.env.local')]);
  });

  it('envFile may be one string; no set chosen means env alone; an app without the chosen set uses its env (like PM2)', () => {
    const [a, b] = resolve1({ name: 'a', envFile: '.env', env: { A: 'env' }, envs: { production: { A: 'set' } } }, { env: { name: 'production', vars: {} } }, [{ name: 'b', script: './server.js', instances: 1, env: { A: 'b' } }]).apps;
    expect(a!.env.A).toBe('set');
    expect(b!.env).toEqual({ A: 'b' });
    expect(b!.envSet).toBeNull();
    expect(resolve1({ env: { A: 'env' }, envs: { production: { A: 'set' } } }).apps[0]!.env).toEqual({ A: 'env' });
  });

  it('a set no app defines is a config error listing the defined names', () => {
    const error = invalid({ envs: { production: {}, development: {} } }, { env: { name: 'prod', vars: {} } });
    expect(error.message).toMatch(/at --env: no app has an env set named 'prod' \(the apps define: production, development\)/);
    expect(invalid({}, { env: { name: 'prod', vars: {} } }).message).toMatch(/no app defines envs/);
  });

  it('a missing env file is a config error naming it, at its key path', () => {
    expect(invalid({ envFile: '.env.missing' }).message).toMatch(new RegExp(`at apps\\[0\\]\\.envFile: env file not found: ${join(dir, '.env.missing').replace(/[.]/g, '\\.')}\\. `));
    expect(invalid({ envFile: ['.env', 'nope'] }).keyPath).toBe('apps[0].envFile[1]');
    expect(invalid({ envFile: '.' }).message).toMatch(/cannot read env file .* \(EISDIR\)/);
  });
});

describe('instanceVar and incrementVar', () => {
  it('default: the slot in NODE_APP_INSTANCE; incrementVar adds the slot to its base', () => {
    const [a] = resolve1({ env: { PORT: '4000' }, incrementVar: 'PORT' }).apps;
    expect(a!.instanceVar).toBe('NODE_APP_INSTANCE');
    expect(a!.incrementVar).toEqual({ name: 'PORT', base: 4000 });
    expect(slotVars(a!, 0)).toEqual({ NODE_APP_INSTANCE: '0', PORT: '4000' });
    expect(slotVars(a!, 2)).toEqual({ NODE_APP_INSTANCE: '2', PORT: '4002' });
    const [b] = resolve1({ instanceVar: 'INSTANCE_ID' }).apps;
    expect(slotVars(b!, 1)).toEqual({ INSTANCE_ID: '1' });
  });

  it("the base may come from the supervisor's own env", () => {
    process.env.NSUP_TEST_BASE = '7000';
    try {
      expect(resolve1({ incrementVar: 'NSUP_TEST_BASE' }).apps[0]!.incrementVar).toEqual({ name: 'NSUP_TEST_BASE', base: 7000 });
    } finally {
      delete process.env.NSUP_TEST_BASE;
    }
  });

  it('no base, a base that is not an integer (without showing it), one variable for both, a bad name: config errors', () => {
    expect(invalid({ incrementVar: 'NSUP_UNSET_VAR' }).message).toMatch(/incrementVar 'NSUP_UNSET_VAR' adds each worker's slot .* no layer sets NSUP_UNSET_VAR/);
    const secret = invalid({ env: { TOKEN: SECRET }, incrementVar: 'TOKEN' });
    expect(secret.keyPath).toBe('apps[0].incrementVar');
    expect(secret.message).toMatch(/needs an integer in TOKEN/);
    expect(secret.message).not.toContain(SECRET);
    expect(invalid({ env: { PORT: 1 }, instanceVar: 'PORT', incrementVar: 'PORT' }).message).toMatch(/PORT is the instanceVar too/);
    expect(invalid({ instanceVar: 'MY-VAR' }).keyPath).toBe('apps[0].instanceVar');
  });
});

describe('no env value in a config error', () => {
  it.each([
    ['a value of the wrong type', { env: { KEY: [SECRET] } }, 'apps[0].env.KEY'],
    ['env given as a string', { env: `KEY=${SECRET}` }, 'apps[0].env'],
    ['a set value of the wrong type', { envs: { production: { KEY: [SECRET, 1] } } }, 'apps[0].envs.production.KEY'],
    ['a set given as a string', { envs: { production: SECRET } }, 'apps[0].envs.production'],
    ['a bigint', { env: { KEY: 123456789n } }, 'apps[0].env.KEY'],
  ])('%s', (_what, app, keyPath) => {
    const error = invalid(app);
    expect(error.keyPath).toBe(keyPath);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain('123456789');
  });
});

describe('flags', () => {
  it('--env production --env KEY=VALUE on a config file: the set, then the variable above it; --env-file is relative to the current directory', async () => {
    const file = join(dir, 'env.config.mjs');
    writeFileSync(file, `export default { apps: [{ name: 'web', script: './server.js', instances: 1, env: { A: 'env', B: 'env' }, envs: { production: { A: 'set', B: 'set' } } }] };`);
    const args = (await parseArgv(['start', '-c', file, '--env', 'production', '--env', 'B=cli', '--env-file', join(dir, '.env.local')])).args;
    const config = await configFromFlags(args);
    expect(config.apps[0]!.env).toEqual({ A: 'set', B: 'cli', C: 'local', D: 'local' });
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const relative = await configFromFlags((await parseArgv(['start', join(dir, 'server.js'), '--env-file', '.env'])).args);
      expect(relative.apps[0]!.envFiles).toEqual([join(dir, '.env')]);
      const missing = await configFromFlags((await parseArgv(['start', join(dir, 'server.js'), '--env-file', 'nope.env'])).args).catch((e: unknown) => e as Error);
      expect(missing.message).toMatch(/^Invalid config on the command line at --env-file: env file not found: .*nope\.env\./);
    } finally {
      process.chdir(cwd);
    }
  });

  it('--env with two set names is a usage error before anything loads', async () => {
    await expect(configFromFlags((await parseArgv(['start', join(dir, 'server.js'), '--env', 'a', '--env', 'b'])).args)).rejects.toThrow(UsageError);
  });
});
