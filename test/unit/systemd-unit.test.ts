// Issue 6: the unit `nsup startup systemd` prints: every directive, escaping, and systemd's own
// verdict on it (`systemd-analyze verify`, where systemd is installed).
import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NSUP_BIN, renderUnit, stopTimeoutSeconds, unitName, type UnitOptions } from '../../src/systemd/unit.ts';

const REPO_BIN = fileURLToPath(new URL('../../bin/nsup.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'nsup-unit-'));
const configFile = join(tmp, 'supervisor.config.mjs');
writeFileSync(configFile, 'export default { apps: [] };\n');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base: UnitOptions = { configFile, apps: [{ name: 'web', killTimeoutMs: 5000 }, { name: 'api', killTimeoutMs: 25_000 }], user: false };

describe('renderUnit', () => {
  it('runs nsup in the foreground with absolute paths', () => {
    const unit = sections(renderUnit(base));
    expect(unit.Service.get('ExecStart')).toEqual([`${process.execPath} ${REPO_BIN} start -c ${configFile}`]);
    expect(unit.Service.get('WorkingDirectory')).toEqual([tmp]);
    expect(NSUP_BIN).toBe(REPO_BIN);
    expect(existsSync(NSUP_BIN)).toBe(true);
  });

  it('has every directive of a system unit', () => {
    const unit = sections(renderUnit(base));
    expect(Object.fromEntries(unit.Unit)).toEqual({ Description: ['nsup: web, api'], After: ['network.target'] });
    expect(Object.fromEntries(unit.Service)).toEqual({
      Type: ['notify'],
      NotifyAccess: ['all'],
      ExecStart: [expect.any(String)],
      ExecReload: ['/bin/kill -HUP $MAINPID'],
      WorkingDirectory: [tmp],
      Environment: ['NSUP_HOME=%t/nsup'],
      KillMode: ['mixed'],
      TimeoutStopSec: ['35'],
      Restart: ['on-failure'],
      RestartSec: ['1s'],
      RestartPreventExitStatus: ['78'],
    });
    expect(Object.fromEntries(unit.Install)).toEqual({ WantedBy: ['multi-user.target'] });
  });

  it('explains KillMode=mixed and exit status 78 in comments', () => {
    const comments = renderUnit(base).split('\n').filter((line) => line.startsWith('#')).join('\n');
    expect(comments).toMatch(/KillMode=mixed: SIGTERM goes to the nsup primary only/);
    expect(comments).toMatch(/SIGKILL, the whole cgroup/);
    expect(comments).toMatch(/Exit code 78 \(EX_CONFIG\) means the config is invalid/);
  });

  it('a --user unit is wanted by default.target and names no user', () => {
    const unit = sections(renderUnit({ ...base, user: true }));
    expect(unit.Install.get('WantedBy')).toEqual(['default.target']);
    expect(unit.Unit.has('After')).toBe(false);
    expect(unit.Service.has('User')).toBe(false);
    expect(() => renderUnit({ ...base, user: true, runAs: 'www-data' })).toThrow(/--run-as is for system units/);
  });

  it('adds User= (and Group= for user:group) only when asked, with a runtime dir that user may write', () => {
    expect(renderUnit(base)).not.toMatch(/^(User|Group|RuntimeDirectory)=/m);
    const one = sections(renderUnit({ ...base, runAs: 'www-data' }));
    expect(one.Service.get('User')).toEqual(['www-data']);
    expect(one.Service.has('Group')).toBe(false);
    expect(one.Service.get('RuntimeDirectory')).toEqual(['nsup']);
    expect(one.Service.get('RuntimeDirectoryMode')).toEqual(['0700']);
    const both = sections(renderUnit({ ...base, runAs: 'www-data:web' }));
    expect([both.Service.get('User'), both.Service.get('Group')]).toEqual([['www-data'], ['web']]);
  });

  it('TimeoutStopSec is the longest kill timeout in seconds plus a margin', () => {
    expect(stopTimeoutSeconds([{ killTimeoutMs: 5000 }, { killTimeoutMs: 25_000 }])).toBe(35);
    expect(stopTimeoutSeconds([{ killTimeoutMs: 1500 }])).toBe(12);
    expect(stopTimeoutSeconds([])).toBe(10);
  });

  it('escapes specifiers, variables and spaces; refuses relative paths and line breaks', () => {
    const odd = { ...base, configFile: '/srv/my app/50%$HOME.config.mjs', nodePath: '/usr/bin/node', nsupBin: '/opt/nsup/bin/nsup.js', apps: [{ name: 'a%b', killTimeoutMs: 1000 }] };
    const unit = sections(renderUnit(odd));
    expect(unit.Service.get('ExecStart')).toEqual(['/usr/bin/node /opt/nsup/bin/nsup.js start -c "/srv/my app/50%%$$HOME.config.mjs"']);
    expect(unit.Service.get('WorkingDirectory')).toEqual(['/srv/my app']);
    expect(unit.Unit.get('Description')).toEqual(['nsup: a%%b']);
    expect(() => renderUnit({ ...base, configFile: 'supervisor.config.ts' })).toThrow(/must be an absolute path/);
    expect(() => renderUnit({ ...base, configFile: '/srv/a\nExecStartPre=/bin/evil' })).toThrow(/line break/);
  });

  it('names the unit after its only app, else after the config folder', () => {
    expect(unitName({ configFile: '/srv/shop/supervisor.config.ts', apps: [{ name: 'web', killTimeoutMs: 0 }] })).toBe('web');
    expect(unitName({ configFile: '/srv/shop/supervisor.config.ts', apps: base.apps })).toBe('shop');
    expect(unitName({ configFile: '/srv/my shop/x.ts', apps: [] })).toBe('my-shop');
  });
});

const analyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!analyze)('systemd-analyze verify', () => {
  const variants: Array<[string, Partial<UnitOptions>]> = [
    ['system unit', {}],
    ['system unit with --run-as', { runAs: 'www-data:www-data' }],
    ['user unit', { user: true }],
  ];
  for (const [name, extra] of variants) {
    it(`accepts the ${name}`, async () => {
      const dir = join(tmp, name.replace(/\W+/g, '-'));
      mkdirSync(dir, { recursive: true });
      // verify needs a name ending in .service; the user manager needs a runtime dir.
      const file = join(dir, 'nsup-test.service');
      writeFileSync(file, renderUnit({ ...base, ...extra }));
      const xdg = join(dir, 'xdg');
      mkdirSync(xdg, { mode: 0o700, recursive: true });
      const args = extra.user ? ['verify', '--user', file] : ['verify', file];
      const result = await execa('systemd-analyze', args, { reject: false, all: true, timeout: 30_000, env: { XDG_RUNTIME_DIR: xdg } });
      expect(result.all).not.toMatch(/nsup-test\.service/);
      expect(result.exitCode).toBe(0);
    });
  }
});

// Unit text → section → key → values (comments and blank lines dropped).
function sections(text: string): Record<'Unit' | 'Service' | 'Install', Map<string, string[]>> {
  const out: Record<string, Map<string, string[]>> = {};
  let current: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) current = out[header[1]!] = new Map();
    else if (line && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      const key = line.slice(0, eq);
      current!.set(key, [...(current!.get(key) ?? []), line.slice(eq + 1)]);
    }
  }
  return { Unit: out.Unit ?? new Map(), Service: out.Service ?? new Map(), Install: out.Install ?? new Map() };
}
