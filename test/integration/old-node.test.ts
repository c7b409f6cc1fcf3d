// Issue 17: the README's `npm start` and `npm test` on a machine whose system Node is older than
// 22.22. The project's own Node (the `node` devDependency: node_modules/.bin/node) runs them
// there, while a supported Node that runs npm (CI's 22, 24, 26) stays the one that runs them.
// A copy of the real scripts (package.json's start/test, scripts/with-node.cjs) in a project
// whose nsup, tsc and vitest are stand-ins that print the Node running them: no whole suite here.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CI_NODE = (major: number) => join(process.env.NSUP_CI_CACHE ?? join(homedir(), '.cache/nsup-ci'), `node${major}/node_modules/node/bin/node`);
const OWN = CI_NODE(24);

/** The first `node` on PATH older than 22.22 (the system one on this machine), with its npm. */
function oldSystemNode(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const bin = join(dir, 'node');
    if (!existsSync(bin) || !existsSync(join(dir, 'npm'))) continue;
    const version = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout?.trim() ?? '';
    const [major = 0, minor = 0] = version.split('.').map(Number);
    if (major > 0 && (major < 22 || (major === 22 && minor < 22))) return bin;
  }
  return null;
}
const OLD = oldSystemNode();

const STAND_IN = (tool: string) => `#!/usr/bin/env node\nconsole.log(JSON.stringify({ tool: ${JSON.stringify(tool)}, node: process.version, args: process.argv.slice(2) }));\n`;

const project = mkdtempSync(join(tmpdir(), 'nsup-old-node-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));
{
  const scripts = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'old-node', private: true, scripts: { start: scripts.start, test: scripts.test } }));
  mkdirSync(join(project, 'scripts'));
  copyFileSync(join(REPO, 'scripts/with-node.cjs'), join(project, 'scripts/with-node.cjs'));
  writeFileSync(join(project, 'scripts/bundle.js'), STAND_IN('bundle'));
  mkdirSync(join(project, 'bin'));
  writeFileSync(join(project, 'bin/nsup.js'), STAND_IN('nsup'));
  mkdirSync(join(project, 'node_modules/.bin'), { recursive: true });
  for (const tool of ['tsc', 'vitest']) {
    writeFileSync(join(project, 'node_modules/.bin', tool), STAND_IN(tool));
    chmodSync(join(project, 'node_modules/.bin', tool), 0o755);
  }
}

/** Runs `npm <args>` in the project with `nodeDir` first on a minimal PATH; the stand-ins' reports and stderr. */
function npm(nodeDir: string, args: string[]): { runs: { tool: string; node: string; args: string[] }[]; stderr: string; status: number | null } {
  const env: Record<string, string> = { HOME: homedir(), PATH: [nodeDir, '/usr/bin', '/bin'].join(delimiter) };
  // No npm_* or NODE_OPTIONS from the npm that may be running this suite.
  const result = spawnSync(join(nodeDir, 'npm'), ['--silent', ...args], { cwd: project, env, encoding: 'utf8', timeout: 60_000 });
  const runs = result.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { tool: string; node: string; args: string[] });
  return { runs, stderr: result.stderr, status: result.status };
}

/** npm's own folder for a CI Node (that package has node only): the system npm, run by that Node. */
function ciDir(major: number): string {
  const dir = join(project, `path-${major}`);
  if (!existsSync(dir)) {
    mkdirSync(dir);
    symlinkSync(CI_NODE(major), join(dir, 'node'));
    symlinkSync(join(dirname(OLD!), 'npm'), join(dir, 'npm'));
  }
  return dir;
}

const haveNodes = OLD !== null && [22, 24, 26].every((major) => existsSync(CI_NODE(major)));

describe.skipIf(!haveNodes)('README commands under an old system Node', () => {
  it('before npm install (no node_modules/.bin/node), the old Node falls back to npx and says why', () => {
    // A PATH with this old node and no npx: the fallback is taken, and its failure is reported, not thrown.
    const dir = join(project, 'path-old');
    mkdirSync(dir);
    symlinkSync(OLD!, join(dir, 'node'));
    const out = spawnSync(join(dir, 'node'), [join(project, 'scripts/with-node.cjs'), 'node', 'bin/nsup.js', 'start'], { cwd: project, encoding: 'utf8', env: { PATH: dir } });
    expect(out.stderr).toMatch(/older than 22\.22 and node_modules\/\.bin\/node is missing \(run npm install\); running `node bin\/nsup\.js start` under Node 24 from npm \(npx -p node@24\)/);
    expect(out.stderr).toContain('could not run npx');
    expect(out.status).toBe(1);
  });

  it('with the system Node first, npm start and npm test run under the project\'s own Node 24 and say so', () => {
    symlinkSync(OWN, join(project, 'node_modules/.bin/node'));
    const ownVersion = execFileSync(OWN, ['--version'], { encoding: 'utf8' }).trim();
    const start = npm(dirname(OLD!), ['start', '--', '-n', 'web', '--env', 'A=b c']);
    expect(start.status).toBe(0);
    expect(start.runs).toEqual([{ tool: 'nsup', node: ownVersion, args: ['start', '-n', 'web', '--env', 'A=b c'] }]);
    expect(start.stderr).toMatch(/is older than 22\.22; running `node bin\/nsup\.js start .*` under the project's own Node \(node_modules\/\.bin\/node\), v24\./);
    const test = npm(dirname(OLD!), ['test', '--', 'test/unit/x.test.ts']);
    expect(test.status).toBe(0);
    expect(test.runs).toEqual([
      { tool: 'tsc', node: ownVersion, args: ['-p', 'tsconfig.json'] },
      { tool: 'bundle', node: ownVersion, args: [] },
      { tool: 'vitest', node: ownVersion, args: ['run', 'test/unit/x.test.ts'] },
    ]);
  });

  // CI (.ci/run) puts 22, 24 or 26 first on PATH: node_modules/.bin/node (24) must not replace it.
  it.each([22, 24, 26])('with Node %i first (CI), npm start and npm test run under that Node, silently', (major) => {
    if (!existsSync(join(project, 'node_modules/.bin/node'))) symlinkSync(OWN, join(project, 'node_modules/.bin/node'));
    const version = execFileSync(CI_NODE(major), ['--version'], { encoding: 'utf8' }).trim();
    const start = npm(ciDir(major), ['start']);
    expect(start.runs).toEqual([{ tool: 'nsup', node: version, args: ['start'] }]);
    expect(start.stderr).toBe('');
    const test = npm(ciDir(major), ['test']);
    expect(test.runs.map((run) => `${run.tool} ${run.node}`)).toEqual([`tsc ${version}`, `bundle ${version}`, `vitest ${version}`]);
    expect(test.stderr).toBe('');
  });
});
