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

/** Run `nsup start <args>` with the tracer in every process; resolves with the primary's footprint once it stopped. */
async function traced(args: string[], whileRunning: (nsup: ReturnType<typeof startNsup>) => Promise<void>): Promise<Footprint> {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-footprint-'));
  try {
    const nsup = startNsup(['start', ...args], { env: { NODE_OPTIONS: `--import ${TRACER}`, FOOTPRINT_DIR: dir } });
    await whileRunning(nsup);
    expect(await stopNsup(nsup)).toBe(0);
    const primary = readdirSync(dir)
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Footprint)
      .filter((p) => !p.worker);
    expect(primary).toHaveLength(1);
    return primary[0]!;
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
    // The tracer saw the primary's modules (so an empty list cannot pass) …
    expect(urls.some((u) => u.endsWith('/dist/supervisor/start.js'))).toBe(true);
    expect(urls.some((u) => u.endsWith('/dist/metrics/server.js'))).toBe(true);
    // … and none of yargs' nor undici.
    expect(urls.filter((u) => /\/node_modules\/(yargs|yargs-parser|cliui)\//.test(u))).toEqual([]);
    expect(builtins.filter((b) => b.includes('undici'))).toEqual([]);
  });

  it('a start the quick parser steps aside for still works, through yargs', async () => {
    const port = await freePort();
    // camelCase flags are yargs' alone: the quick parser returns null and yargs parses.
    const { urls } = await traced([`${FIXTURES}http-ok.js`, '-i', '1', '--env', `PORT=${port}`, '--killTimeout', '3s'], async (nsup) => {
      await nsup.waitFor(listening, 'a listening worker');
      expect((await get(port)).status).toBe(200);
    });
    expect(urls.some((u) => /\/node_modules\/yargs\//.test(u))).toBe(true);
  });
});
