// Issue 7: under steady load, SIGKILL a random worker every 2 s for 20 s. The primary stays up,
// capacity comes back after every kill, nothing is left behind, and the failed requests are
// bounded by what was in flight on the killed workers.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/http.ts';
import { startLoad } from '../helpers/load.ts';
import { cleanupAll, isAlive, sleep, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

describe('chaos', () => {
  it('survives a SIGKILL of a random worker every 2 s for 20 s under load', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const p = tmpProject();
    try {
      const script = p.fixture('http-ok.js');
      // Workers killed after 1 s of uptime count as healthy: restarted at once, no backoff.
      const config = p.write('supervisor.config.mjs', `export default { apps: [{ name: 'chaos', script: ${JSON.stringify(script)}, instances: 2, env: { PORT: '${port}' }, restart: { minUptime: '1s' } }] };`);
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitForCount(listening, 2, 'two listening workers');
      const connections = 10;
      const load = startLoad(port, { connections });
      const kills: number[] = [];
      let seed = 7;
      for (let round = 0; round < 10; round++) {
        // The kill cadence itself (elapsed time, not an event): also past minUptime, so no backoff.
        await sleep(2000);
        const up = nsup.listeningPids();
        expect(up, `round ${round}: capacity restored before the next kill`).toHaveLength(2);
        seed = (seed * 48271) % 2147483647;
        const victim = up[seed % up.length]!;
        process.kill(victim, 'SIGKILL');
        kills.push(victim);
        await nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === victim, `round ${round}: exit of ${victim}`, 5000);
        await nsup.waitFor(() => nsup.listeningPids().length === 2 && !nsup.listeningPids().includes(victim), `round ${round}: replacement`, 5000);
      }
      const result = await load.stop();
      console.info(`chaos: ${kills.length} kills, ${result.ok} ok, ${result.failed} failed (bound ${kills.length * connections})`);
      expect(isAlive(nsup.proc.pid!)).toBe(true);
      expect(nsup.events.filter((e) => e.event === 'worker.exit' && e.signal === 'SIGKILL')).toHaveLength(10);
      // autocannon keeps one request in flight per connection: a kill can fail at most the
      // requests of the connections that were on the killed worker.
      expect(result.failed).toBeLessThanOrEqual(kills.length * connections);
      expect(result.ok).toBeGreaterThan(1000);
      expect(result.failed / result.total).toBeLessThan(0.01);
      expect(await stopNsup(nsup)).toBe(0);
      expect(await waitGone(nsup.workerPids())).toEqual([]);
      expect(kills.filter(isAlive)).toEqual([]);
    } finally {
      p.dispose();
    }
  });
});
