// Issue 15: each worker's live figures (requests served and their rate, event-loop delay and
// utilisation) reach `nsup status --json` and /metrics within about a second, from the real
// worker runtime; each app's last reloads are in status, a rollback with its reason.
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppStatus, StatusDocument } from '../../src/control/types.ts';
import { freePort, get } from '../helpers/http.ts';
import { startLoad } from '../helpers/load.ts';
import { BIN, ROOT, cleanupAll, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { tmpProject } from '../helpers/tmp-project.ts';
import { pollUntil } from '../helpers/until.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';

async function appStatus(home: string): Promise<AppStatus> {
  const result = await execa(process.execPath, [BIN, 'status', '--json'], { cwd: ROOT, env: { NO_COLOR: '1', NSUP_HOME: home }, reject: false, timeout: 15_000, stdin: 'ignore' });
  expect(result.exitCode, String(result.stderr)).toBe(0);
  return (JSON.parse(String(result.stdout)) as StatusDocument).supervisors[0]!.apps[0]!;
}

/** Poll status (each call is a CLI run) until `check` holds; returns the status that passed. */
async function statusUntil(home: string, check: (app: AppStatus) => boolean, what: string, timeoutMs = 10_000): Promise<AppStatus> {
  let last: AppStatus | null = null;
  let pending = false;
  await pollUntil(() => {
    if (last && check(last)) return true;
    if (!pending) {
      pending = true;
      void appStatus(home).then((app) => ((last = app), (pending = false)));
    }
    return false;
  }, `${what} (last status: ${JSON.stringify(last?.workers.map((w) => w.live))})`, timeoutMs);
  return last!;
}

const total = (app: AppStatus) => app.workers.reduce((sum, w) => sum + (w.live?.requests ?? 0), 0);

describe('issue 15: live figures', () => {
  it('counts requests and shows their rate, a stalled loop and the reloads in status --json and /metrics', async () => {
    const port = await freePort();
    const home = mkdtempSync(join(tmpdir(), 'nsup-home-'));
    const p = tmpProject();
    const script = p.fixture('stall.js');
    try {
      const nsup = startNsup(['start', script, '-i', '2', '-n', 'web', '--env', `PORT=${port}`, '--metrics-port', '0'], { env: { NSUP_HOME: home } });
      const metrics = (await nsup.waitFor((e) => e.event === 'metrics.listening', 'metrics server')).port as number;
      await nsup.waitForCount(listening, 2, 'two listening workers');
      // Every worker reports within about a second of starting, served nothing yet.
      const idle = await statusUntil(home, (app) => app.workers.every((w) => w.live !== null), 'a first report from each worker');
      expect(idle.workers.map((w) => w.live!.requests)).toEqual([0, 0]);

      // 40 requests on fresh connections (spread over both workers), then one that blocks a loop for 400 ms.
      for (let i = 0; i < 40; i++) expect((await get(port)).status).toBe(200);
      expect((await get(port, '/stall?ms=400')).status).toBe(200);
      const after = await statusUntil(home, (app) => total(app) === 41 && app.workers.some((w) => w.live!.eventLoopDelayMs.max >= 250), '41 requests and a stalled loop');
      expect(after.workers.every((w) => w.live!.requests > 0)).toBe(true);
      for (const w of after.workers) {
        expect(w.live!.elu).toBeGreaterThanOrEqual(0);
        expect(w.live!.elu).toBeLessThanOrEqual(1);
      }

      // Under load the rate shows; once the load stops it falls back to 0 within about a second.
      const load = startLoad(port, { connections: 4 });
      const loaded = await statusUntil(home, (app) => app.workers.every((w) => w.live!.reqPerSec > 10), 'a request rate on both workers');
      expect(loaded.workers.every((w) => w.live!.elu > 0)).toBe(true);
      const served = await load.stop();
      expect(served.failed).toBe(0);
      const quiet = await statusUntil(home, (app) => app.workers.every((w) => w.live!.reqPerSec === 0), 'the rate back to 0');
      // Each of the 4 connections may have had one request in flight when the load stopped: served, not counted by the client.
      expect(total(quiet)).toBeGreaterThanOrEqual(41 + served.ok);
      expect(total(quiet)).toBeLessThanOrEqual(41 + served.ok + 4);

      const body = (await get(metrics, '/metrics')).body;
      for (const family of ['nsup_worker_requests_total counter', 'nsup_worker_event_loop_delay_seconds gauge', 'nsup_worker_event_loop_utilization gauge', 'nsup_worker_requests_in_flight gauge', 'nsup_worker_connections gauge']) {
        expect(body).toContain(`# TYPE ${family}`);
      }
      const counted = [...body.matchAll(/^nsup_worker_requests_total\{app="web",worker="\d",generation="1"\} (\d+)$/gm)].map((m) => Number(m[1]));
      expect(counted).toHaveLength(2);
      expect(counted.reduce((a, b) => a + b, 0)).toBe(total(quiet));
      expect(body).toMatch(/^nsup_worker_event_loop_delay_seconds\{app="web",worker="0",generation="1",quantile="0\.99"\} [\d.e-]+$/m);
      expect(body).toMatch(/^nsup_worker_event_loop_delay_seconds\{app="web",worker="1",generation="1",quantile="1"\} [\d.e-]+$/m);
      expect(body).toMatch(/^nsup_worker_event_loop_utilization\{app="web",worker="0",generation="1"\} [\d.e-]+$/m);

      // Two reloads, then a deploy that throws at start-up: the history has all three, oldest first.
      for (let n = 1; n <= 2; n++) {
        nsup.proc.kill('SIGHUP');
        const end = (await nsup.waitForCount(isReloadEnd, n, `reload ${n}`, 30_000))[n - 1]!;
        expect(end.event, String(end.reason)).toBe("reload.done");
      }
      writeFileSync(script, `throw new Error('bad deploy');\n${readFileSync(script, 'utf8')}`);
      nsup.proc.kill('SIGHUP');
      expect((await nsup.waitForCount(isReloadEnd, 3, 'reload 3', 30_000))[2]!.event).toBe('reload.rolled-back');
      const reloaded = await appStatus(home);
      expect(reloaded.reloads!.map((r) => [r.generation, r.ok])).toEqual([[2, true], [3, true], [4, false]]);
      expect(reloaded.reloads![2]!.reason).toMatch(/bad deploy/);
      for (const r of reloaded.reloads!) {
        expect(r.trigger).toBe('SIGHUP');
        expect(r.durationMs).toBeGreaterThan(0);
        expect(Number.isNaN(Date.parse(r.startedAt))).toBe(false);
      }
      // The new generation's workers count from 0 again.
      expect(reloaded.workers.every((w) => w.generation === 3)).toBe(true);
      expect(await stopNsup(nsup)).toBe(0);
      expect(await waitGone(nsup.workerPids())).toEqual([]);
    } finally {
      p.dispose();
      rmSync(home, { recursive: true, force: true });
    }
  }, 60_000);
});
