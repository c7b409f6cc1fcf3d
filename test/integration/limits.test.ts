// Issue 6: a worker above maxMemory is replaced through the rolling path (new one up first, then
// the old one drains), without failing a request.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get } from '../helpers/http.ts';
import { startLoad } from '../helpers/load.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

describe('resource limits', () => {
  it('replaces a worker above maxMemory gracefully, logging the figure', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}memory-hog.js`, '-i', '1', '-n', 'hog', '--env', `PORT=${port}`, '--env', 'HOG_MB=200', '--max-memory', '120MB']);
    await nsup.waitFor(listening, 'listening');
    const first = nsup.listeningPids()[0]!;
    const load = startLoad(port, { connections: 5 });
    const replace = await nsup.waitFor((e) => e.event === 'worker.replace' && e.pid === first, 'memory replacement', 20_000);
    expect(replace.msg).toMatch(/memory \d+\.\d MB is above maxMemory 120\.0 MB; starting a replacement, then draining it/);
    const replaced = await nsup.waitFor((e) => e.event === 'worker.replaced' && e.old === first, 'old worker drained');
    expect(replaced.pid).not.toBe(first);
    await nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === first && e.expected === true, 'old worker exit');
    const result = await load.stop();
    expect(result.failed, JSON.stringify(result)).toBe(0);
    expect(result.ok).toBeGreaterThan(0);
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });

  it('replaces a worker whose event loop is blocked longer than heartbeatTimeout', async () => {
    const port = await freePort();
    const p = tmpProject();
    try {
      const script = p.fixture('blocker.js');
      const config = p.write('supervisor.config.mjs', `export default { apps: [{ name: 'stuck', script: ${JSON.stringify(script)}, instances: 1, env: { PORT: '${port}' }, heartbeatTimeout: '1s', killTimeout: '1s' }] };`);
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitFor(listening, 'listening');
      const hung = nsup.listeningPids()[0]!;
      // A healthy worker is left alone: nothing may happen for longer than heartbeatTimeout (1s).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(nsup.events.some((e) => e.event === 'worker.replace')).toBe(false);
      void get(port, '/block', { timeoutMs: 20_000 }).catch(() => null);
      const replace = await nsup.waitFor((e) => e.event === 'worker.replace' && e.pid === hung, 'hung worker replaced', 10_000);
      expect(replace.msg).toMatch(/hung: its event loop has been blocked for \d+(\.\d)?(s|ms) \(heartbeatTimeout 1\.0s\)/);
      await nsup.waitFor((e) => e.event === 'worker.replaced' && e.old === hung, 'replacement up');
      const killed = await nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === hung, 'hung worker gone');
      expect(killed.signal).toBe('SIGKILL');
      const body = (await get(port)).body;
      expect(Number(body)).not.toBe(hung);
      expect(await stopNsup(nsup)).toBe(0);
      expect(await waitGone(nsup.workerPids())).toEqual([]);
    } finally {
      p.dispose();
    }
  });
});
