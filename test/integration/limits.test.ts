// Issue 6: a worker above maxMemory is replaced through the rolling path (new one up first, then
// the old one drains), without failing a request.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/http.ts';
import { startLoad } from '../helpers/load.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES } from '../helpers/tmp-project.ts';

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
});
