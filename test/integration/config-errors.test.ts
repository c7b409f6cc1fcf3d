// Issue 2: every kind of bad config exits 78 before starting anything, with one message that
// names the file, the key path, the bad value and what is accepted.
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { cliHome } from '../helpers/daemon.ts';
import { withEnv } from '../helpers/processes.ts';
import { BIN } from '../helpers/run-nsup.ts';
import { tmpProject } from '../helpers/tmp-project.ts';
import { pollUntil } from '../helpers/until.ts';

const project = tmpProject();
project.write('app.js', 'setInterval(() => {}, 1000);\n');
afterAll(() => project.dispose());

async function nsup(args: string[]) {
  return execa(process.execPath, [BIN, ...args], { cwd: project.dir, reject: false, timeout: 15_000, env: { NO_COLOR: '1' } });
}

const cases: Array<{ name: string; config: string; message: RegExp }> = [
  { name: 'unknown key', config: `{ apps: [{ script: './app.js', instancs: 2 }] }`, message: /at apps\[0\]\.instancs: unknown key.*did you mean 'instances'\?.*Accepted keys: name, script, instances/ },
  { name: 'wrong type', config: `{ apps: [{ script: './app.js', waitReady: 'yes' }] }`, message: /at apps\[0\]\.waitReady: got "yes" \(string\); expected/ },
  { name: 'bad duration', config: `{ apps: [{ script: './app.js', restart: { delay: '5 parsecs' } }] }`, message: /at apps\[0\]\.restart\.delay: got "5 parsecs" \(string\); expected a duration like '500ms', '5s', '2m'/ },
  { name: 'instances lots', config: `{ apps: [{ script: './app.js', instances: 'lots' }] }`, message: /at apps\[0\]\.instances: got "lots" \(string\); expected 'max', -1, or a positive integer/ },
  { name: 'instances 1.5', config: `{ apps: [{ script: './app.js', instances: 1.5 }] }`, message: /at apps\[0\]\.instances: got 1\.5 \(number\); expected 'max', -1, or a positive integer/ },
  { name: 'apps not an array', config: `{ apps: { script: './app.js' } }`, message: /at apps: got \{…\} \(object\); expected an array of apps/ },
  { name: 'script not found', config: `{ apps: [{ script: './nope.js' }] }`, message: /at apps\[0\]\.script: file not found: .*nope\.js/ },
  { name: 'syntax error in the config', config: `{ apps: [{ script: './app.js' ] }`, message: /Cannot load config file .*supervisor\.config\.ts: syntax error at .*supervisor\.config\.ts:1: Expected ',', got '\]'/ },
];

describe('bad config', () => {
  for (const { name, config, message } of cases) {
    it(`${name}: exit 78, one clear message, nothing started`, async () => {
      const file = project.write('supervisor.config.ts', `export default ${config};\n`);
      const result = await nsup(['start']);
      expect(result.exitCode).toBe(78);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain(file);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      // Nothing was started: no supervisor log line at all.
      expect(result.stdout).toBe('');
    });
  }

  it('start -d: the same one message and exit 78, and the daemon it spawned while validating is gone', async () => {
    // `start -d` spawns the daemon before it validates (detach.ts): a bad config must still look
    // exactly like the foreground's error, and leave no daemon behind.
    const home = cliHome();
    try {
      const file = project.write('bad-daemon.config.ts', `export default { apps: [{ script: './app.js', instancs: 2 }] };\n`);
      const result = await home.nsup(['start', '-d', '-c', file]);
      expect(result.exitCode).toBe(78);
      expect(result.stderr).toMatch(/at apps\[0\]\.instancs: unknown key/);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stdout).toBe('');
      // The daemon exits by itself on the same error, or on the command's SIGTERM.
      await pollUntil(() => withEnv('NSUP_HOME', home.home).length === 0, 'the daemon spawned in parallel to exit', 5000);
      expect(home.daemonPids()).toEqual([]);
    } finally {
      await home.dispose();
    }
  });

  it('names the flag for a bad command-line value', async () => {
    const result = await nsup(['start', 'app.js', '-i', 'lots']);
    expect(result.exitCode).toBe(78);
    expect(result.stderr).toMatch(/on the command line at --instances: got "lots" \(string\)/);
  });

  it('a missing config file says how to fix it', async () => {
    const result = await nsup(['start', '-c', 'missing.config.ts']);
    expect(result.exitCode).toBe(78);
    expect(result.stderr).toMatch(/Config file not found: .*missing\.config\.ts\. Create it/);
  });

  it('usage errors exit 2', async () => {
    const result = await nsup(['start', 'app.js', '--bogus']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/Unknown argument: bogus/);
  });
});
