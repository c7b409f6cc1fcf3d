// Issue 11: apps that cannot start say what to do. A TypeScript app with decorators or an enum run
// under Node's type stripping needs a build step or a loader; an extensionless relative import in
// an ES module needs its extension. The crash loop's logged reason says so.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup } from '../helpers/run-nsup.ts';
import { tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

/** Start `script` (copied with `others`) and return the crash loop's reason. */
async function crashLoopReason(script: string, others: string[] = []): Promise<{ reason: string; path: string }> {
  const project = tmpProject();
  try {
    const port = await freePort();
    const path = project.fixture(script);
    for (const other of others) project.fixture(other);
    project.write('package.json', '{ "type": "module" }\n');
    const config = project.write(
      'supervisor.config.mjs',
      `export default { apps: [{ name: 'broken', script: ${JSON.stringify(path)}, instances: 1, env: { PORT: '${port}' }, restart: { delay: '20ms' } }] };`,
    );
    const nsup = startNsup(['start', '-c', config]);
    const loop = await nsup.waitFor((e) => e.event === 'app.state' && e.to === 'crash-loop', 'crash-loop state');
    const restart = await nsup.waitFor((e) => e.event === 'worker.restart', 'restart line');
    expect(restart.msg).toContain((loop.lastFailure as { reason: string }).reason);
    expect(await stopNsup(nsup)).toBe(0);
    return { reason: (loop.lastFailure as { reason: string }).reason, path };
  } finally {
    project.dispose();
  }
}

describe('startup failures explained (issue 11)', () => {
  it('a TypeScript app with decorators: needs a build step (tsc) or a loader', async () => {
    const { reason, path } = await crashLoopReason('ts-decorators.ts');
    expect(reason).toContain(`${path}:9 uses a decorator, which needs a build step (tsc) or a loader: Node strips types but does not transform decorators`);
    expect(reason).toContain("nodeArgs: ['--import', 'tsx']");
    expect(reason).not.toMatch(/^syntax error/);
  });

  it('a TypeScript app with an enum: needs a build step (tsc) or a loader', async () => {
    const { reason, path } = await crashLoopReason('ts-enum.ts');
    expect(reason).toContain(`${path}:4 uses a TypeScript enum, which needs a build step (tsc) or a loader`);
    expect(reason).toContain('--experimental-transform-types');
  });

  it('an extensionless relative import: add the extension, not npm install', async () => {
    const { reason, path } = await crashLoopReason('extensionless-import.js', ['greeting.js']);
    expect(reason).toContain(`(imported from ${path}): add the file extension: import './greeting.js'`);
    expect(reason).not.toContain('npm install');
  });
});
