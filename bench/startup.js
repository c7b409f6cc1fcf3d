// Scenario: start-to-serving. The time from spawning the start command until the first HTTP 200
// on the port (a GET without keep-alive every 2 ms), and until every worker has called back from
// listen() (the marker files). Commands: `node app.js`; `node raw-cluster.js`; `nsup start -c
// <config>` in the foreground; `nsup start -c <config> -d` (the daemon, also until the command
// returned); `pm2 start app.js -i 2` with a fresh PM2_HOME each run, so PM2's figure includes
// spawning its God daemon (as on a fresh boot or in a container).
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP, TARGETS, WORKERS, freePort, httpStatus, markerPids, markers, onCleanup, sleep, stopTarget, waitFor } from './lib.js';

export const NAMES = ['single', 'raw cluster', 'pm2', 'nsup', 'nsup -d'];

export async function startup({ rounds = 3, names = NAMES, log = () => {} } = {}) {
  // samples[name] = one entry per round: { firstOkMs, allListeningMs }
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const base = mkdtempSync(join(tmpdir(), 'nsup-bench-'));
      const dir = join(base, 'markers');
      mkdirSync(dir);
      const port = await freePort();
      const count = name === 'single' ? 1 : WORKERS;
      const spawnedAt = Date.now();
      const t0 = performance.now();
      const running = TARGETS[name].start({ port, dir, script: APP, workers: count, base });
      const stop = () => stopTarget(running, dir, base);
      const forget = onCleanup(stop);
      try {
        await waitFor(async () => (await httpStatus(port, 1000)) === 200, `${name}: first 200`, 30_000, 2);
        const firstOkMs = Math.round(performance.now() - t0);
        await waitFor(() => markerPids(dir).length >= count, `${name}: every worker listening`, 30_000, 2);
        const allListeningMs = Math.max(...markers(dir).values()) - spawnedAt;
        await running.command;
        // `start -d` and `pm2 start` return once their workers are up: a script waits that long.
        const returnedMs = running.command ? Math.round(performance.now() - t0) : null;
        samples[name].push({ firstOkMs, allListeningMs, returnedMs });
        log(`  start-to-serving round ${round + 1} ${name.padEnd(11)} first 200 after ${firstOkMs} ms, all listening after ${allListeningMs} ms${returnedMs === null ? '' : `, command returned after ${returnedMs} ms`}`);
      } finally {
        forget();
        await stop();
      }
      await sleep(200);
    }
  }
  return { samples, params: { rounds } };
}
