// Issue 16: recycling. maxRequests (with jitter) replaces a worker past its count through the
// rolling path, one at a time, without a failed request; WebSocket upgrades count. `recycle` is a
// rolling reload on a schedule, never a restart.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort } from '../helpers/http.ts';
import { startLoad } from '../helpers/load.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject, type TmpProject } from '../helpers/tmp-project.ts';
import { changed, until } from '../helpers/until.ts';

let project: TmpProject | undefined;
afterEach(async () => {
  await cleanupAll();
  project?.dispose();
  project = undefined;
});

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const byRequests = (e: LogLine) => e.event === 'worker.replace' && e.kind === 'requests';

/** A project running reloadable.js with these app keys (JS source). */
async function setup(extra: string): Promise<{ config: string; port: number }> {
  const p = (project = tmpProject());
  const port = await freePort();
  p.fixture('reloadable.js');
  const config = p.write('supervisor.config.mjs', `export default { apps: [{ name: 'web', script: './reloadable.js', instances: 2, env: { PORT: '${port}' }, killTimeout: '5s' ${extra} }] };`);
  return { config, port };
}

describe('recycling', () => {
  it('maxRequests 1000 with jitter 200 under load: workers replaced one at a time, 0 failed requests, no reload', { timeout: 90_000 }, async () => {
    const { config, port } = await setup(`, maxRequests: 1000, maxRequestsJitter: 200`);
    const nsup = startNsup(['start', '-c', config]);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const load = startLoad(port, { connections: 20 });
    await nsup.waitForCount(byRequests, 4, 'four replacements for maxRequests', 60_000);
    // The fourth replacement's new worker up, and its old one draining.
    await nsup.waitForCount((e) => e.event === 'worker.replaced', 4, 'the fourth replacement up', 20_000);
    const result = await load.stop();
    expect(result.failed, JSON.stringify(result)).toBe(0);
    expect(await stopNsup(nsup)).toBe(0);

    for (const e of nsup.events.filter(byRequests)) {
      // "served 1093 requests (maxRequests 1000 + jitter 93)"
      // (a drawn jitter of 0, 1 chance in 201, is written without the "+ jitter" part)
      const m = /served (\d+) requests \(maxRequests 1000(?: \+ jitter (\d+))?\)/.exec(String(e.reason));
      expect(m, String(e.reason)).not.toBeNull();
      const [served, jitter] = [Number(m![1]), Number(m![2] ?? 0)];
      expect(jitter).toBeGreaterThanOrEqual(0);
      expect(jitter).toBeLessThanOrEqual(200);
      expect(served).toBeGreaterThanOrEqual(1000 + jitter);
    }
    // One at a time: each replacement is up (worker.replaced) before the next one starts.
    const sequence = nsup.events.filter((e) => byRequests(e) || e.event === 'worker.replaced').map((e) => e.event);
    sequence.forEach((event, i) => expect(event, sequence.join(' ')).toBe(i % 2 === 0 ? 'worker.replace' : 'worker.replaced'));
    expect(nsup.events.filter((e) => e.event === 'reload.start' || e.event === 'app.restart')).toEqual([]);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });

  it('recycle every 3 s under load: a rolling reload (trigger recycle), new pids, never a restart, 0 failed requests', { timeout: 60_000 }, async () => {
    const { config, port } = await setup(`, recycle: '*/3 * * * * *'`);
    const nsup = startNsup(['start', '-c', config]);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const first = nsup.listeningPids().sort();
    const load = startLoad(port, { connections: 10 });
    const start = await nsup.waitFor((e) => e.event === 'reload.start', 'a recycle reload', 10_000);
    expect(String(start.trigger)).toBe("recycle (*/3 * * * * *)");
    expect((await nsup.waitFor((e) => e.event === 'reload.done' || e.event === 'reload.rolled-back', 'the reload end', 30_000)).event).toBe('reload.done');
    expect(nsup.events.some((e) => e.event === 'app.recycle')).toBe(true);
    const result = await load.stop();
    expect(result.failed, JSON.stringify(result)).toBe(0);
    const now = nsup.listeningPids().sort();
    expect(now).toHaveLength(2);
    for (const pid of first) expect(now).not.toContain(pid);
    expect(await stopNsup(nsup)).toBe(0);
    expect(nsup.events.filter((e) => e.event === 'app.restart')).toEqual([]);
  });

  it('counts WebSocket upgrades: with maxRequests 5 the worker is replaced and its clients get 1012', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}ws-echo.js`, '-n', 'ws', '-i', '1', '--env', `PORT=${port}`, '--max-requests', '5']);
    await nsup.waitFor(listening, 'listening');
    const [old] = nsup.listeningPids();
    const closes: number[] = [];
    const clients = Array.from({ length: 5 }, () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.on('close', (code) => {
        closes.push(code);
        changed();
      });
      ws.on('error', () => changed());
      return ws;
    });
    await nsup.waitFor(byRequests, 'a replacement for maxRequests');
    await until(() => closes.length === clients.length, 'every client closed', 20_000);
    expect(closes).toEqual(Array(5).fill(1012));
    await nsup.waitFor((e) => e.event === 'worker.replaced' && e.old === old, 'the old worker replaced');
    expect(await stopNsup(nsup)).toBe(0);
  });
});
