// Scenario: SIGKILL a worker, measure the time until its replacement listens again.
// Interleaved rounds (raw cluster, nsup, PM2, raw cluster, …) so machine noise hits all alike.
import { markers, median, sleep, waitFor, withSupervisor } from './lib.js';

export async function recovery({ rounds = 3, kills = 5, names = ['raw cluster', 'nsup', 'pm2'] } = {}) {
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      await withSupervisor(name, 2, async ({ dir, alive }) => {
        for (let k = 0; k < kills; k++) {
          // Let every worker be up past nsup's restart.minUptime (set to 1s here) so each kill
          // counts as a crash of a healthy worker, which every supervisor restarts at once.
          await sleep(1200);
          const before = markers(dir);
          const victim = [...before.keys()].find(alive);
          const killedAt = Date.now();
          process.kill(victim, 'SIGKILL');
          const fresh = await waitFor(() => [...markers(dir)].find(([pid]) => !before.has(pid)), `${name}: replacement`);
          samples[name].push(fresh[1] - killedAt);
        }
      });
    }
  }
  return Object.fromEntries(names.map((name) => [name, { median: median(samples[name]), min: Math.min(...samples[name]), max: Math.max(...samples[name]), n: samples[name].length }]));
}
