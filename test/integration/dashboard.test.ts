// Issue 15: the dashboard at / on the metrics port, in a real headless browser (Debian's chromium
// driven by puppeteer-core; nothing downloads a browser): every worker on the page, a killed
// worker's restart within 2 s without reloading the page, charts with data, and the reload and
// scale buttons refused without the token and working with it. Screenshots go to test/artifacts/.
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get } from '../helpers/http.ts';
import { killTree, withEnv } from '../helpers/processes.ts';
import { ROOT, cleanupAll, startNsup, stopNsup, waitGone, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { FIXTURES } from '../helpers/tmp-project.ts';
import { haveTool } from '../helpers/tools.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test/artifacts');
const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

// Whatever a test leaves behind is closed here: its browser (and every process it started), its nsup, its dirs.
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await cleanupAll();
});

/** A headless chromium with a private profile; closed (and checked gone) at the end of the test. */
async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'nsup-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    // --no-sandbox only as root (chromium refuses to run its sandbox there); the marker finds its processes.
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--window-size=1400,1000'],
    env: { ...process.env, NSUP_TEST_BROWSER: profile },
    defaultViewport: { width: 1400, height: 1000 },
  });
  cleanups.push(async () => {
    await browser.close().catch(() => undefined);
    // Every chromium process (renderers, GPU and zygote helpers, crashpad included) is gone within
    // 3 s (close() resolves when the main process exits; its helpers follow a moment later), or killed now.
    const deadline = Date.now() + 3000;
    let left = withEnv('NSUP_TEST_BROWSER', profile);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      left = withEnv('NSUP_TEST_BROWSER', profile);
    }
    const what = left.map((pid) => { try { return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 120)}`; } catch { return String(pid); } });
    await killTree(left);
    rmSync(profile, { recursive: true, force: true });
    expect(what, 'chromium processes left 3 s after browser.close()').toEqual([]);
  });
  return browser;
}

/** nsup with the dashboard on, in a runtime dir of the test's own (where dashboard.token is). */
async function startWithDashboard(instances: number): Promise<{ nsup: Nsup; port: number; metrics: number; home: string }> {
  const home = mkdtempSync(join(tmpdir(), 'nsup-home-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const port = await freePort();
  const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', String(instances), '-n', 'web', '--env', `PORT=${port}`, '--metrics-port', '0', '--dashboard'], { env: { NSUP_HOME: home } });
  const bound = await nsup.waitFor((e) => e.event === 'dashboard.listening', 'dashboard listening');
  await nsup.waitForCount(listening, instances, `${instances} listening workers`);
  return { nsup, port, metrics: bound.port as number, home };
}

/** The pids the page shows in its worker table, by worker id. */
function shownWorkers(page: Page): Promise<Array<{ id: string; pid: string; restarts: string }>> {
  return page.$$eval('[data-app="web"] [data-table="workers"] tbody tr', (rows) =>
    rows.map((r) => ({ id: r.getAttribute('data-worker') ?? '', pid: r.querySelector('[data-field="pid"]')?.textContent ?? '', restarts: r.querySelector('[data-field="restarts"]')?.textContent ?? '' })),
  );
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
  expect(statSync(join(ARTIFACTS, name)).size).toBeGreaterThan(10_000);
}

describe.skipIf(!haveTool(CHROMIUM, 'apt-get install chromium'))('dashboard in a headless browser', () => {
  it('renders every worker, shows a killed worker restarting within 2 s live, and charts 15 minutes of data', async () => {
    const { nsup, port, metrics } = await startWithDashboard(3);
    const browser = await launchBrowser();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(`http://127.0.0.1:${metrics}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelectorAll('[data-app="web"] [data-table="workers"] tbody tr').length === 3, { timeout: 5000 });
    const before = await shownWorkers(page);
    expect(before.map((w) => Number(w.pid)).sort()).toEqual(nsup.listeningPids().sort());
    expect(before.map((w) => w.restarts)).toEqual(['0', '0', '0']);
    expect(await page.$eval('#conn', (e) => e.textContent)).toBe('live');

    // Some traffic, so that the req/s chart has something to show.
    for (let i = 0; i < 30; i++) expect((await get(port)).status).toBe(200);
    // The charts have samples (one a second) and RSS figures in them (the usage sampler runs every 2 s).
    await page.waitForFunction(() => {
      const c = (window as unknown as { nsupDashboard: { charts: Record<string, Record<string, { data: Array<Array<number | null>> }>> } }).nsupDashboard.charts.web;
      const has = (key: string, ok: (v: number) => boolean) => c![key]!.data[1]!.some((v) => typeof v === 'number' && ok(v));
      return c !== undefined && c.rssBytes!.data[0]!.length >= 3 && has('rssBytes', (v) => v > 1e6) && has('reqPerSec', (v) => v > 0) && has('restarts', (v) => v === 0);
    }, { timeout: 8000 });

    // Kill worker 1: the page (not reloaded: the marker survives) shows its new pid and the restart within 2 s.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const victim = Number(before.find((w) => w.id === '1')!.pid);
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    await page.waitForFunction((old: string) => {
      const row = document.querySelector('[data-app="web"] tr[data-worker="1"]');
      const pid = row?.querySelector('[data-field="pid"]')?.textContent;
      return row?.querySelector('[data-field="restarts"]')?.textContent === '1' && pid !== old && pid !== '-' && pid !== undefined;
    }, { timeout: 2000 }, String(victim));
    const tookMs = Date.now() - killedAt;
    expect(tookMs).toBeLessThan(2000);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // The last failure is shown with its exit; the restarts chart steps to 1.
    await page.waitForFunction(() => /signal SIGKILL/.test(document.querySelector('[data-app="web"] [data-field="last-failure"]')?.textContent ?? ''), { timeout: 2000 });
    await page.waitForFunction(() => (window as unknown as { nsupDashboard: { charts: { web: { restarts: { data: number[][] } } } } }).nsupDashboard.charts.web.restarts.data[1]!.includes(1), { timeout: 2000 });
    const drawn = await page.$$eval('[data-app="web"] [data-chart] canvas', (canvases) => canvases.length);
    expect(drawn).toBe(4);
    await screenshot(page, 'dashboard.png');
    expect(errors).toEqual([]);
    console.log(`dashboard showed the restart ${tookMs} ms after the kill`);
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });

  it('refuses reload and scale without the token, and runs them with it', async () => {
    const { nsup, metrics, home } = await startWithDashboard(2);
    const token = readFileSync(join(home, 'dashboard.token'), 'utf8').trim();
    expect(statSync(join(home, 'dashboard.token')).mode & 0o777).toBe(0o600);
    const browser = await launchBrowser();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${metrics}/`, { waitUntil: 'load' });
    await page.waitForSelector('[data-app="web"] [data-action="reload"]', { timeout: 5000 });
    // Read-only: every action button is disabled, and the API itself answers 401 (a wrong token too).
    expect(await page.$$eval('[data-app="web"] [data-action]', (buttons) => buttons.map((b) => (b as HTMLButtonElement).disabled))).toEqual([true, true, true]);
    const refused = await page.evaluate(async (wrong: string) => {
      const post = (path: string, auth?: string) => fetch(path, { method: 'POST', headers: auth ? { authorization: `Bearer ${auth}` } : {}, body: '{"delta":1}' }).then((r) => r.status);
      return [await post('/api/apps/web/reload'), await post('/api/apps/web/scale'), await post('/api/apps/web/reload', wrong)];
    }, 'f'.repeat(64));
    expect(refused).toEqual([401, 401, 401]);
    expect(nsup.events.filter((e) => e.event === 'dashboard.action' || e.event === 'reload.start')).toEqual([]);
    await screenshot(page, 'dashboard-read-only.png');

    // With the token (from #token=, taken out of the address bar): the buttons work.
    await page.goto(`http://127.0.0.1:${metrics}/#token=${token}`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector<HTMLButtonElement>('[data-app="web"] [data-action="reload"]')?.disabled === false, { timeout: 5000 });
    expect(page.url()).not.toContain(token);
    await page.click('[data-app="web"] [data-action="reload"]');
    const done = await nsup.waitFor((e) => e.event === 'reload.done', 'reload from the dashboard', 20_000);
    expect(done).toMatchObject({ generation: 2, trigger: "dashboard" });
    await page.waitForFunction(() => /generation 2 /.test(document.querySelector('[data-app="web"] [data-field="meta"]')?.textContent ?? ''), { timeout: 3000 });
    await page.waitForFunction(() => /^2\b/.test(document.querySelector('[data-app="web"] [data-table="reloads"] tbody tr td')?.textContent ?? ''), { timeout: 3000 });
    await page.click('[data-app="web"] [data-action="scale-up"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-app="web"] [data-table="workers"] tbody tr').length === 3, { timeout: 10_000 });
    await nsup.waitForCount(listening, 5, 'the third worker listening');
    await screenshot(page, 'dashboard-actions.png');
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });
});

// DNS rebinding: a page of another site whose name now resolves to 127.0.0.1 sends its own name
// as Host. The dashboard (page, assets, API) refuses it; /metrics and the probes are as before.
describe('dashboard Host check', () => {
  const request = (port: number, path: string, host: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`))).on('error', reject).end();
    });

  it('answers 403 to a Host that is not a loopback name, and serves 127.0.0.1 and localhost', async () => {
    const { nsup, metrics } = await startWithDashboard(1);
    for (const path of ['/', '/api/status', '/api/events']) {
      const refused = await request(metrics, path, `rebound.example:${metrics}`);
      expect(refused.status, path).toBe(403);
      expect(refused.body).toMatch(/answers only to a loopback Host \(it listens on 127\.0\.0\.1\), not to "rebound\.example:\d+": open it as http:\/\/127\.0\.0\.1 or http:\/\/localhost/);
    }
    expect((await request(metrics, '/', `localhost:${metrics}`)).status).toBe(200);
    expect((await request(metrics, '/api/status', `127.0.0.1:${metrics}`)).status).toBe(200);
    expect((await request(metrics, '/metrics', `rebound.example:${metrics}`)).status).toBe(200);
    expect(await stopNsup(nsup)).toBe(0);
    expect(await waitGone(nsup.workerPids())).toEqual([]);
  });
});
