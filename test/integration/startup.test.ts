// Issue 6: `nsup startup systemd` prints a unit for a validated config on stdout, where to put it
// on stderr, and exits 78 on a bad config like `nsup start` does.
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject } from '../helpers/tmp-project.ts';

const project = tmpProject();
afterAll(() => project.dispose());
const app = JSON.stringify(join(FIXTURES, 'http-ok.js'));

async function nsup(args: string[]) {
  return execa(process.execPath, [BIN, ...args], { cwd: project.dir, reject: false, timeout: 15_000, env: { NO_COLOR: '1' } });
}

describe('nsup startup systemd', () => {
  it('prints a system unit for the config, and the hint on stderr', async () => {
    const config = project.write('supervisor.config.mjs', `export default { apps: [{ name: 'web', script: ${app}, killTimeout: '20s' }] };\n`);
    const result = await nsup(['startup', 'systemd', '-c', config]);
    expect(result.stderr).toBe(
      '# Save this unit as /etc/systemd/system/web.service, then run:\n#   systemctl daemon-reload && systemctl enable --now web',
    );
    expect(result.exitCode).toBe(0);
    const unit = result.stdout.split('\n');
    expect(unit).toContain(`ExecStart=${process.execPath} ${BIN} start -c ${config}`);
    expect(unit).toContain(`WorkingDirectory=${project.dir}`);
    expect(unit).toEqual(expect.arrayContaining(['Description=nsup: web', 'Type=notify', 'KillMode=mixed', 'TimeoutStopSec=30', 'RestartPreventExitStatus=78', 'WantedBy=multi-user.target']));
    expect(unit.some((line) => /^(User|Group)=/.test(line))).toBe(false);
  });

  it('reads ./supervisor.config.ts by default; --user and --run-as shape the unit', async () => {
    const config = project.write('supervisor.config.ts', `export default { apps: [{ name: 'api', script: ${app} }, { name: 'web', script: ${app} }] };\n`);
    const user = await nsup(['startup', 'systemd', '--user']);
    expect(user.exitCode).toBe(0);
    expect(user.stdout).toContain(` start -c ${config}\n`);
    expect(user.stdout).toContain('Description=nsup: api, web\n');
    expect(user.stdout).toMatch(/^WantedBy=default.target$/m);
    const folder = project.dir.split('/').pop()!;
    expect(user.stderr).toContain(`~/.config/systemd/user/${folder}.service`);
    expect(user.stderr).toContain(`systemctl --user daemon-reload && systemctl --user enable --now ${folder}`);
    const runAs = await nsup(['startup', 'systemd', '--run-as', 'www-data:www-data']);
    expect(runAs.exitCode).toBe(0);
    expect(runAs.stdout).toMatch(/^User=www-data\nGroup=www-data\n/m);
  });

  it('a bad config exits 78 with the usual message and prints no unit', async () => {
    const config = project.write('broken.config.mjs', `export default { apps: [{ script: './nope.js' }] };\n`);
    const result = await nsup(['startup', 'systemd', '-c', config]);
    expect(result.exitCode).toBe(78);
    expect(result.stderr).toMatch(/Invalid config in .*broken\.config\.mjs at apps\[0\]\.script: file not found.*\[NSUP_ERR_CONFIG_INVALID\]/);
    expect(result.stdout).toBe('');
    const missing = await nsup(['startup', 'systemd', '-c', 'missing.config.ts']);
    expect(missing.exitCode).toBe(78);
    expect(missing.stderr).toMatch(/Config file not found/);
  });

  it('usage errors exit 2: another platform, or --user with --run-as', async () => {
    const other = await nsup(['startup', 'upstart']);
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toMatch(/Choices: "systemd"/);
    const both = await nsup(['startup', 'systemd', '--user', '--run-as', 'www-data']);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/mutually exclusive/);
  });
});
