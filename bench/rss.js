// Scenario: resident memory with 2 idle workers, from /proc/<pid>/status (VmRSS): the nsup
// primary (the `nsup start` process), the raw cluster primary, PM2's God daemon (the pid in
// $PM2_HOME/pm2.pid) and, as the floor of any Node process serving HTTP, a single `node app.js`.
// Measured 3 s after every worker listens, median of 5 readings 200 ms apart. Also RssAnon (the
// process's own memory, without the node binary's shared code pages) and the sum over the
// primary and its workers.
import { markerPids, median, memKb, sleep, withTarget } from './lib.js';

export const NAMES = ['single', 'raw cluster', 'pm2', 'nsup'];

export async function rss({ rounds = 3, idleMs = 3000, names = NAMES, log = () => {} } = {}) {
  // samples[name] = one entry per round: { primaryKb, primaryAnonKb, workersKb, totalKb }
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      await withTarget(name, async (ctx) => {
        await sleep(idleMs);
        const readings = [];
        for (let i = 0; i < 5; i++) {
          const workers = name === 'single' ? [] : markerPids(ctx.dir);
          const primary = memKb(ctx.pid);
          readings.push({ primary: primary?.rss, anon: primary?.anon, workers: workers.reduce((sum, pid) => sum + (memKb(pid)?.rss ?? 0), 0) });
          await sleep(200);
        }
        const primaryKb = median(readings.map((r) => r.primary));
        const primaryAnonKb = median(readings.map((r) => r.anon));
        const workersKb = median(readings.map((r) => r.workers));
        samples[name].push({ pid: ctx.pid, primaryKb, primaryAnonKb, workersKb, totalKb: primaryKb + workersKb });
        log(
          `  rss round ${round + 1} ${name.padEnd(11)} ${name === 'single' ? 'process' : 'primary'} ${(primaryKb / 1024).toFixed(1)} MB ` +
            `(own ${(primaryAnonKb / 1024).toFixed(1)} MB), with workers ${((primaryKb + workersKb) / 1024).toFixed(1)} MB`,
        );
      });
    }
  }
  return { samples, params: { rounds, idleMs } };
}
