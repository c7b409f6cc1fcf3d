// Issue 14: a reload evaluates the config file again only when its content changed (Node never
// frees an imported module, so a re-import per reload grew the primary). Each config here appends
// a line to a counter file whenever it is evaluated.
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { ConfigLoadError } from '../../src/errors.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsup-reimport-'));
  writeFileSync(join(dir, 'app.js'), '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** How many times the configs writing to `counter` were evaluated. */
function evaluations(counter: string): number {
  try {
    return readFileSync(counter, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** An ES module config that counts its evaluations in `<name>.count` and runs `instances` workers. */
function esmConfig(name: string, instances: number, extra = ''): string {
  const counter = JSON.stringify(join(dir, `${name}.count`));
  return `import { appendFileSync } from 'node:fs';\nappendFileSync(${counter}, 'x\\n');\n${extra}export default { apps: [{ name: 'web', script: './app.js', instances: ${instances} }] };\n`;
}

describe('config re-import on reload', () => {
  it('evaluates an unchanged file once, and again after each edit (also back and forth)', async () => {
    const file = join(dir, 'back-and-forth.config.mjs');
    const counter = join(dir, 'back-and-forth.count');
    const load = async () => (await loadConfigFile(file)).apps[0]!.instances;
    writeFileSync(file, esmConfig('back-and-forth', 2));
    expect([await load(), await load(), await load(), await load()]).toEqual([2, 2, 2, 2]);
    expect(evaluations(counter)).toBe(1);
    writeFileSync(file, esmConfig('back-and-forth', 3));
    expect([await load(), await load()]).toEqual([3, 3]);
    expect(evaluations(counter)).toBe(2);
    writeFileSync(file, esmConfig('back-and-forth', 2));
    expect(await load()).toBe(2);
    writeFileSync(file, esmConfig('back-and-forth', 3));
    expect([await load(), await load()]).toEqual([3, 3]);
    expect(evaluations(counter)).toBe(4);
  });

  it('compares content, not mtime: a touch is no change, an edit with the old mtime is one', async () => {
    const file = join(dir, 'mtime.config.mjs');
    const counter = join(dir, 'mtime.count');
    writeFileSync(file, esmConfig('mtime', 2));
    const { atime, mtime } = statSync(file);
    expect((await loadConfigFile(file)).apps[0]!.instances).toBe(2);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect((await loadConfigFile(file)).apps[0]!.instances).toBe(2);
    expect(evaluations(counter)).toBe(1);
    // Same length, same mtime: only the bytes differ.
    writeFileSync(file, esmConfig('mtime', 4));
    utimesSync(file, atime, mtime);
    expect((await loadConfigFile(file)).apps[0]!.instances).toBe(4);
    expect(evaluations(counter)).toBe(2);
  });

  it('applies the overrides (flags) to the reused value again on every load, without changing it', async () => {
    const file = join(dir, 'override.config.mjs');
    writeFileSync(file, esmConfig('override', 2));
    const withInstances = (n: number) => (raw: unknown) => {
      const config = raw as { apps: Array<Record<string, unknown>> };
      return { ...config, apps: config.apps.map((app) => ({ ...app, instances: n })) };
    };
    expect((await loadConfigFile(file, withInstances(5))).apps[0]!.instances).toBe(5);
    expect((await loadConfigFile(file, withInstances(6))).apps[0]!.instances).toBe(6);
    expect((await loadConfigFile(file)).apps[0]!.instances).toBe(2);
    expect(evaluations(join(dir, 'override.count'))).toBe(1);
  });

  it('does the same for CommonJS, and a PM2 ecosystem file stays one (its warnings on every load)', async () => {
    const file = join(dir, 'ecosystem.reimport.config.cjs');
    const counter = JSON.stringify(join(dir, 'cjs.count'));
    const text = (port: number) =>
      `require('node:fs').appendFileSync(${counter}, 'x\\n');\nmodule.exports = { apps: [{ name: 'api', script: './app.js', exec_mode: 'cluster', instances: 2, listen_timeout: 3000, env: { PORT: '${port}' } }] };\n`;
    writeFileSync(file, text(4000));
    for (let i = 0; i < 3; i++) {
      const config = await loadConfigFile(file);
      expect(config.apps[0]!.env.PORT).toBe('4000');
      expect(config.warnings?.map((w) => w.key)).toEqual(['apps[0].listen_timeout']);
    }
    expect(evaluations(join(dir, 'cjs.count'))).toBe(1);
    writeFileSync(file, text(4001));
    expect((await loadConfigFile(file)).apps[0]!.env.PORT).toBe('4001');
    expect(evaluations(join(dir, 'cjs.count'))).toBe(2);
  });

  it('does not re-read the files a config imports: only an edit of the config file itself is seen', async () => {
    const file = join(dir, 'imports.config.mjs');
    const shared = join(dir, 'shared.mjs');
    writeFileSync(shared, 'export const instances = 2;\n');
    const text = (extra: string) => `import { instances } from './shared.mjs';\n${extra}export default { apps: [{ script: './app.js', instances }] };\n`;
    writeFileSync(file, text(''));
    expect((await loadConfigFile(file)).apps[0]!.instances).toBe(2);
    writeFileSync(shared, 'export const instances = 3;\n');
    expect((await loadConfigFile(file)).apps[0]!.instances).toBe(2);
    // The config file is evaluated again, and gets the imported module Node already has.
    writeFileSync(file, text('// edited\n'));
    expect((await loadConfigFile(file)).apps[0]!.instances).toBe(2);
  });

  it('imports a broken file again on every try, so that the fix is seen', async () => {
    const file = join(dir, 'broken.config.mjs');
    const counter = join(dir, 'broken.count');
    writeFileSync(file, esmConfig('broken', 2, "throw new Error('not yet');\n"));
    await expect(loadConfigFile(file)).rejects.toThrow(ConfigLoadError);
    await expect(loadConfigFile(file)).rejects.toThrow(/not yet/);
    expect(evaluations(counter)).toBe(2);
    writeFileSync(file, esmConfig('broken', 2));
    expect((await loadConfigFile(file)).apps[0]!.instances).toBe(2);
    expect((await loadConfigFile(file)).apps[0]!.instances).toBe(2);
    expect(evaluations(counter)).toBe(3);
  });
});
