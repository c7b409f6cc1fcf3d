// Issue 2: `nsup start` runs an unmodified HTTP server on N workers and stops without dropping a request.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get, getJson } from '../helpers/http.ts';
import { cleanupAll, isAlive, startNsup, stopNsup, waitGone, sleep } from '../helpers/run-nsup.ts';
import { FIXTURES } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: { event?: string; to?: unknown }) => e.event === 'worker.state' && e.to === 'listening';

describe('nsup start', () => {
  it('runs two workers that both answer, with stable slot ids and env', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '2', '-n', 'web', '--env', `PORT=${port}`, '--env', 'EXTRA=yes', '--', '--flag', 'x']);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const seen = new Map<number, Record<string, unknown>>();
    for (let i = 0; i < 30 && seen.size < 2; i++) {
      const body = await getJson(port);
      seen.set(body.pid as number, body);
    }
    expect([...seen.keys()].sort()).toEqual(nsup.workerPids().sort());
    const bodies = [...seen.values()].sort((a, b) => Number(a.worker) - Number(b.worker));
    expect(bodies.map((b) => [b.worker, b.instance, b.app, b.extra])).toEqual([
      ['0', '0', 'web', 'yes'],
      ['1', '1', 'web', 'yes'],
    ]);
    expect(bodies[0]!.argv).toEqual(['--flag', 'x']);
    // Worker output is forwarded line by line, each line a record of who wrote it and when.
    await nsup.waitForOutput((l) => l === `listening on ${port}`, 'the worker line');
    const line = nsup.records.find((r) => r.msg === `listening on ${port}` && r.worker === 0)!;
    expect(line).toMatchObject({ app: 'web', worker: 0, gen: 1, stream: 'out', msg: `listening on ${port}` });
    expect(nsup.workerPids()).toContain(line.pid);
    expect(Math.abs(Date.parse(String(line.time)) - Date.now())).toBeLessThan(60_000);
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });

  it('SIGTERM lets in-flight slow requests finish, then exits 0 and leaves no worker', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '2', '--env', `PORT=${port}`, '--kill-timeout', '8s']);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 4 });
    const slow = [1, 2, 3, 4].map((tag) => get(port, `/?delay=1500&tag=${tag}`, { agent: tag % 2 ? agent : undefined }));
    for (const tag of [1, 2, 3, 4]) await nsup.waitForOutput((l) => l.endsWith(`request ${tag} started`), `request ${tag} started`);
    const stopped = stopNsup(nsup);
    const results = await Promise.all(slow);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // Responses that were in flight during the drain tell keep-alive clients to go away.
    expect(results.map((r) => r.headers.connection)).toEqual(['close', 'close', 'close', 'close']);
    expect(await stopped).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
    agent.destroy();
  });

  it('Ctrl-C to the whole process group drains instead of cutting requests', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '2', '--env', `PORT=${port}`], { detached: true });
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const slow = [1, 2].map((tag) => get(port, `/?delay=1000&tag=${tag}`));
    for (const tag of [1, 2]) await nsup.waitForOutput((l) => l.endsWith(`request ${tag} started`), `request ${tag} started`);
    process.kill(-nsup.proc.pid!, 'SIGINT');
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
    expect((await nsup.exited).code).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });

  it('a second SIGTERM stops at once', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '1', '--env', `PORT=${port}`, '--kill-timeout', '20s']);
    await nsup.waitFor(listening, 'listening worker');
    const slow = get(port, '/?delay=15000&tag=1').catch((error: Error) => error);
    await nsup.waitForOutput((l) => l.endsWith('request 1 started'), 'request started');
    const started = Date.now();
    nsup.proc.kill('SIGTERM');
    await nsup.waitFor((e) => e.event === 'supervisor.stopping', 'stopping');
    nsup.proc.kill('SIGTERM');
    expect((await nsup.exited).code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await slow).toBeInstanceOf(Error);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });

  it('SIGKILL of the primary leaves no worker running', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '2', '--env', `PORT=${port}`]);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const pids = nsup.workerPids();
    expect(pids.every(isAlive)).toBe(true);
    nsup.proc.kill('SIGKILL');
    await nsup.exited;
    // Workers notice the closed IPC channel and exit by themselves: nothing kills them here.
    // There is no event for a non-child's exit, so poll (bounded).
    const deadline = Date.now() + 5000;
    while (pids.some(isAlive) && Date.now() < deadline) await sleep(25);
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
