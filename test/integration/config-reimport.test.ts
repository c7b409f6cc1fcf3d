// Issue 14: a reload evaluates the config file again only when it changed (Node never frees an
// imported module: one re-import per reload grew the primary for good). What the file does not
// hold stays fresh: the env file and the flags are applied again on every reload.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, getJson } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

interface Answer {
  gen: number;
  env: Record<string, string | null>;
}

let project: TmpProject | undefined;
afterEach(async () => {
  await cleanupAll();
  project?.dispose();
  project = undefined;
});

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back' || e.event === 'reload.config-invalid';
const ask = (port: number) => getJson<Answer>(port, '/?keys=GREETING,RELEASE,FROM_FLAG');

/** SIGHUP and wait for the reload number `n` (1-based) to end; returns its end event's name. */
async function reload(nsup: Nsup, n: number): Promise<string> {
  nsup.proc.kill('SIGHUP');
  const ends = await nsup.waitForCount(isReloadEnd, n, `reload ${n} to end`, 30_000);
  return String(ends[n - 1]!.event);
}

describe('config re-import on reload', () => {
  it('evaluates an unchanged config once over 3 reloads (env file and flags still fresh), and again once it is edited', async () => {
    project = tmpProject();
    project.fixture('env-echo.js');
    const port = await freePort();
    const counter = project.path('evaluations.log');
    const envFile = project.write('.env', 'RELEASE=one\n');
    const config = project.write(
      'supervisor.config.ts',
      `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(counter)}, 'evaluated\\n');\n` +
        `export default { apps: [{ name: 'web', script: './env-echo.js', instances: 2, envFile: ${JSON.stringify(envFile)}, env: { PORT: '${port}', GREETING: 'hello' } }] };\n`,
    );
    const evaluations = () => readFileSync(counter, 'utf8').split('\n').filter(Boolean).length;
    const nsup = startNsup(['start', '-c', config, '--env', 'FROM_FLAG=cli']);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    expect(evaluations()).toBe(1);
    for (let n = 1; n <= 3; n++) {
      if (n === 3) writeFileSync(envFile, 'RELEASE=two\n');
      expect(await reload(nsup, n)).toBe('reload.done');
    }
    expect(evaluations()).toBe(1);
    for (let i = 0; i < 4; i++) expect(await ask(port)).toMatchObject({ gen: 4, env: { GREETING: 'hello', RELEASE: 'two', FROM_FLAG: 'cli' } });
    writeFileSync(config, readFileSync(config, 'utf8').replace("GREETING: 'hello'", "GREETING: 'bonjour'"));
    expect(await reload(nsup, 4)).toBe('reload.done');
    expect(evaluations()).toBe(2);
    for (let i = 0; i < 4; i++) expect(await ask(port)).toMatchObject({ gen: 5, env: { GREETING: 'bonjour', RELEASE: 'two', FROM_FLAG: 'cli' } });
    expect(await stopNsup(nsup)).toBe(0);
  });
});
