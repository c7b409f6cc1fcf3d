// Issue 3: file changes trigger one debounced rolling reload; logs written next to the code do not.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, getJson } from '../helpers/http.ts';
import { cleanupAll, sleep, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

describe('watch', () => {
  it('a burst of 5 writes gives exactly one reload, and the new code serves', async () => {
    const port = await freePort();
    const p = tmpProject();
    try {
      const script = p.fixture('reloadable.js');
      // A 1 s debounce: the burst's 40 ms gaps stay inside it even when a loaded machine stretches a
      // 40 ms sleep several times over (with the default 300 ms, CI once saw two reloads).
      const config = p.write('supervisor.config.mjs', `export default { apps: [{ name: 'web', script: './reloadable.js', instances: 2, watch: { debounce: '1s' }, env: { PORT: '${port}' } }] };`);
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitForCount(listening, 2, 'two listening workers');
      await nsup.waitFor((e) => e.event === 'watch.ready', 'watcher ready');
      const code = readFileSync(script, 'utf8');
      // A burst: writes spaced 40 ms apart, inside the debounce window (the spacing is the point).
      for (let i = 2; i <= 6; i++) {
        writeFileSync(script, code.replace("'v1'", `'v${i}'`));
        await sleep(40);
      }
      const done = await nsup.waitFor((e) => e.event === 'reload.done', 'reload done');
      expect(done.trigger).toBe('file change');
      // A negative check: no second reload may follow within a second.
      await sleep(1000);
      expect(nsup.events.filter((e) => e.event === 'reload.start')).toHaveLength(1);
      expect((await getJson(port)).build).toBe('v6');
      expect(await stopNsup(nsup)).toBe(0);
      expect(await waitGone(nsup.workerPids())).toEqual([]);
    } finally {
      p.dispose();
    }
  });

  it('a log file written continuously inside the watched folder causes no reload', async () => {
    const port = await freePort();
    const p = tmpProject();
    try {
      const script = p.fixture('reloadable.js');
      writeFileSync(script, readFileSync(script, 'utf8') + `\nimport { appendFileSync } from 'node:fs';\nsetInterval(() => appendFileSync(new URL('./app.log', import.meta.url), 'tick\\n'), 50);\n`);
      const nsup = startNsup(['start', script, '-i', '1', '--watch', '--ignore', '**/tmp-*', '--env', `PORT=${port}`]);
      await nsup.waitFor(listening, 'listening');
      await nsup.waitFor((e) => e.event === 'watch.ready', 'watcher ready');
      // Writes spread over a second, then a negative check: no change or reload is seen for 800 ms more.
      for (let i = 0; i < 10; i++) {
        appendFileSync(p.path('.hidden-state'), 'x');
        writeFileSync(p.path(`tmp-${i}.json`), '{}');
        await sleep(100);
      }
      await sleep(800);
      expect(nsup.events.filter((e) => e.event === 'watch.change' || e.event === 'reload.start')).toEqual([]);
      expect(readFileSync(p.path('app.log'), 'utf8').split('\n').length).toBeGreaterThan(10);
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      p.dispose();
    }
  });
});
