// Issue 6: Prometheus /metrics (nsup's families + the app's prom-client counters summed across
// workers), /healthz and /readyz from the primary.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

describe('metrics and health', () => {
  it('serves nsup families and the app counter aggregated across 2 workers', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}prom-counter.js`, '-i', '2', '-n', 'api', '--env', `PORT=${port}`, '--metrics-port', '0']);
    const bound = await nsup.waitFor((e) => e.event === 'metrics.listening', 'metrics server');
    expect(bound.host).toBe('127.0.0.1');
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const pids = new Set<string>();
    for (let i = 0; i < 40; i++) pids.add((await get(port)).body);
    expect(pids.size).toBe(2);
    const res = await get(bound.port as number, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    for (const family of ['nsup_workers_desired', 'nsup_workers_up', 'nsup_app_state', 'nsup_worker_state', 'nsup_worker_restarts', 'nsup_restarts_total', 'nsup_reloads_total', 'nsup_worker_uptime_seconds', 'nsup_ipc_messages_relayed_total', 'nsup_primary_process_resident_memory_bytes']) {
      expect(res.body).toContain(`# TYPE ${family} `);
    }
    expect(res.body).toContain('nsup_workers_up{app="api"} 2');
    expect(res.body).toContain('nsup_app_state{app="api",state="running"} 1');
    expect(res.body).toMatch(/nsup_worker_state\{app="api",worker="1",generation="1",state="listening"\} 1/);
    // 40 requests spread over two workers, counted once cluster-wide.
    expect(res.body).toMatch(/^fixture_requests_total 40$/m);
    expect((await get(bound.port as number, '/healthz')).status).toBe(200);
    const ready = await get(bound.port as number, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ok: true, apps: { api: 'running' } });
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });

  it('/readyz turns 503 as soon as a stop begins, while workers still drain', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '1', '--env', `PORT=${port}`, '--metrics-port', '0', '--kill-timeout', '5s']);
    const bound = await nsup.waitFor((e) => e.event === 'metrics.listening', 'metrics server');
    await nsup.waitFor(listening, 'listening');
    expect((await get(bound.port as number, '/readyz')).status).toBe(200);
    const slow = get(port, '/?delay=1500&tag=s');
    await nsup.waitForOutput((l) => l.endsWith('request s started'), 'slow request started');
    nsup.proc.kill('SIGTERM');
    await nsup.waitFor((e) => e.event === 'supervisor.stopping', 'stopping');
    const ready = await get(bound.port as number, '/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).reason).toBe('stopping');
    expect((await slow).status).toBe(200);
    expect((await nsup.exited).code).toBe(0);
  });

  it('/readyz is 503 with the reason while an app crash-loops; /healthz stays 200', async () => {
    const p = tmpProject();
    try {
      const script = p.fixture('crash-on-boot.js');
      const config = p.write('supervisor.config.mjs', `export default { apps: [{ name: 'flaky', script: ${JSON.stringify(script)}, instances: 1, restart: { delay: '50ms', maxDelay: '200ms' } }], metrics: { port: 0 } };`);
      const nsup = startNsup(['start', '-c', config]);
      const bound = await nsup.waitFor((e) => e.event === 'metrics.listening', 'metrics server');
      await nsup.waitFor((e) => e.event === 'app.state' && e.to === 'crash-loop', 'crash loop');
      const ready = await get(bound.port as number, '/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toMatchObject({ ok: false, apps: { flaky: 'crash-loop' } });
      expect(JSON.parse(ready.body).reason).toMatch(/^flaky is crash-loop \(last exit: exited with code 1: Error: cannot boot: database unreachable\)$/);
      expect((await get(bound.port as number, '/healthz')).status).toBe(200);
      expect((await get(bound.port as number, '/metrics')).body).toContain('nsup_app_state{app="flaky",state="crash-loop"} 1');
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      p.dispose();
    }
  });
});
