// Issue 2: existing, unmodified servers run under nsup: plain http, Express, Fastify (CommonJS),
// a TypeScript script, and the default supervisor.config.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get, getJson } from '../helpers/http.ts';
import { ROOT, cleanupAll, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

async function serves(args: string[], check: (body: Record<string, unknown>) => void, env: Record<string, string> = {}) {
  const port = await freePort();
  const nsup = startNsup([...args, ...(args.includes('-c') || args.length === 1 ? [] : ['--env', `PORT=${port}`])], { env: { PORT: String(port), ...env } });
  await nsup.waitForCount(listening, 2, 'two listening workers');
  const pids = new Set<number>();
  for (let i = 0; i < 30 && pids.size < 2; i++) {
    const body = await getJson(port);
    check(body);
    pids.add(body.pid as number);
  }
  expect([...pids].sort()).toEqual(nsup.workerPids().sort());
  expect(await stopNsup(nsup)).toBe(0);
  expect(await waitGone(nsup.workerPids())).toEqual([]);
  return nsup;
}

describe('examples', () => {
  it('Express serves under -i 2', async () => {
    await serves(['start', `${ROOT}examples/express/server.js`, '-i', '2'], (b) => expect(b.framework).toBe('express'));
  });

  it('Fastify (CommonJS) serves under -i 2', async () => {
    await serves(['start', `${ROOT}examples/fastify/server.cjs`, '-i', '2'], (b) => expect(b.framework).toBe('fastify'));
  });

  it('a .ts script runs on native type stripping', async () => {
    await serves(['start', `${FIXTURES}http-ok.ts`, '-i', '2'], (b) => expect(b.kind).toBe('ts'));
  });

  it('a CommonJS script runs', async () => {
    await serves(['start', `${FIXTURES}http-ok.cjs`, '-i', '2'], (b) => expect(b.kind).toBe('cjs'));
  });

  it('the default supervisor.config.ts runs the basic-http example on every usable CPU', async () => {
    const port = await freePort();
    const nsup = startNsup(['start'], { env: { PORT: String(port) } });
    const instances = await nsup.waitFor((e) => e.event === 'app.instances', 'instance count');
    expect(instances.source).toMatch(/^max: /);
    await nsup.waitForCount(listening, instances.instances as number, 'all workers listening');
    expect((await get(port)).status).toBe(200);
    expect(await stopNsup(nsup)).toBe(0);
  });

  it("logFormat json merges an app's JSON lines with nsup's fields and wraps plain lines", async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}json-logger.js`, '-i', '1', '-n', 'api', '--log-format', 'json', '--env', `PORT=${port}`]);
    await nsup.waitFor(listening, 'listening');
    await nsup.waitForOutput((l) => l.includes('hello from json'), 'json line');
    await nsup.waitForOutput((l) => l === 'plain line', 'plain line');
    const [json, plain] = nsup.records;
    // The app's fields are kept (its own `worker` string gives way to nsup's slot number).
    expect(json).toEqual({ time: expect.any(String), app: 'api', worker: 0, pid: nsup.workerPids()[0], gen: 1, stream: 'out', level: 30, msg: 'hello from json' });
    expect(plain).toEqual({ time: expect.any(String), app: 'api', worker: 0, pid: nsup.workerPids()[0], gen: 1, stream: 'out', msg: 'plain line' });
    expect(await stopNsup(nsup)).toBe(0);
  });
});
