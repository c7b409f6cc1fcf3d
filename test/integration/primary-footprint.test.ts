// Issue 14: what the long-running primary loads. A foreground `nsup start` is the primary for as
// long as it supervises, so it must not keep yargs (the quick start parser, cli/quick-start.ts) nor
// undici (an ES import of node:http builds its namespace, and its WebSocket getters load undici:
// about 13 MB). Every process records what it loaded through a preloaded tracer.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const TRACER = join(FIXTURES, '../footprint/tracer.mjs');
const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

interface Footprint {
  urls: string[];
  builtins: string[];
  worker: boolean;
}

/** Run `nsup start <args>` with the tracer in every process; resolves with the primary's footprint, and its workers', once it stopped. */
async function traced(args: string[], whileRunning: (nsup: ReturnType<typeof startNsup>) => Promise<void>): Promise<Footprint & { workers: Footprint[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-footprint-'));
  try {
    const nsup = startNsup(['start', ...args], { env: { NODE_OPTIONS: `--import ${TRACER}`, FOOTPRINT_DIR: dir } });
    await whileRunning(nsup);
    expect(await stopNsup(nsup)).toBe(0);
    const all = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Footprint);
    const primary = all.filter((p) => !p.worker);
    expect(primary).toHaveLength(1);
    return { ...primary[0]!, workers: all.filter((p) => p.worker) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the primary keeps only what supervising needs', () => {
  it('a foreground start with metrics loads neither yargs nor undici', async () => {
    const port = await freePort();
    const { urls, builtins } = await traced([`${FIXTURES}http-ok.js`, '-i', '1', '--env', `PORT=${port}`, '--metrics-port', '0'], async (nsup) => {
      const metrics = await nsup.waitFor((e) => e.event === 'metrics.listening', 'metrics server');
      await nsup.waitFor(listening, 'a listening worker');
      expect((await get(port)).status).toBe(200);
      expect((await get(metrics.port as number, '/metrics')).body).toContain('nsup_workers_up');
    });
    // The tracer saw the primary's bundle (so an empty list cannot pass), the metrics server's chunk
    // among it (scripts/bundle.js names chunks after their first module) …
    expect(urls.some((u) => u.endsWith('/dist/bundle/nsup.js'))).toBe(true);
    expect(urls.some((u) => /\/dist\/bundle\/primary-server-[^/]+\.js$/.test(u))).toBe(true);
    // … and not yargs (its own chunk in the bundle, or its files in node_modules), nor undici.
    expect(urls.filter((u) => /yargs|cliui/.test(u))).toEqual([]);
    expect(builtins.filter((b) => b.includes('undici'))).toEqual([]);
  });

  it('a start the quick parser steps aside for still works, through yargs', async () => {
    const port = await freePort();
    // camelCase flags are yargs' alone: the quick parser returns null and yargs parses.
    const { urls } = await traced([`${FIXTURES}http-ok.js`, '-i', '1', '--env', `PORT=${port}`, '--killTimeout', '3s'], async (nsup) => {
      await nsup.waitFor(listening, 'a listening worker');
      expect((await get(port)).status).toBe(200);
    });
    expect(urls.some((u) => /\/dist\/bundle\/primary-yargs-[^/]+\.js$/.test(u))).toBe(true);
  });

  it('a worker loads the runtime as one CommonJS file, and nsup/worker as one small ES module', async () => {
    const port = await freePort();
    const { workers } = await traced([`${FIXTURES}ipc-worker.js`, '-i', '1', '--env', `PORTS=${port}`], async (nsup) => {
      await nsup.waitFor(listening, 'a listening worker');
      expect((await get(port)).status).toBe(200);
    });
    expect(workers).toHaveLength(1);
    // The app's `import 'nsup/worker'` resolved to the bundle's API file alone, nothing to tsc's
    // per-module files (13 of them for the runtime). (The preload is required before the tracer's
    // own --import runs, so the tracer never sees it; the drain tests prove it runs.)
    expect(workers[0]!.urls.filter((u) => u.includes('/dist/'))).toEqual([expect.stringMatching(/\/dist\/bundle\/worker\.js$/)]);
  });
});
