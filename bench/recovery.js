// Scenario: SIGKILL a worker, measure the time until its replacement listens again (the app
// writes the listen time into a marker file, so every supervisor is timed by the same clock).
import { alive, markers, median, sleep, waitFor, withTarget } from './lib.js';

export const NAMES = ['raw cluster', 'pm2', 'nsup'];

export async function recovery({ rounds = 3, kills = 5, names = NAMES, log = () => {} } = {}) {
  // samples[name] = one entry per round: { ms: [one per kill], median }
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      await withTarget(name, async ({ dir }) => {
        const ms = [];
        for (let k = 0; k < kills; k++) {
          // Let every worker serve for more than a second, so each kill is a lost serving worker,
          // which every supervisor restarts at once under its default policy.
          await sleep(1200);
          const before = markers(dir);
          const victim = [...before.keys()].find(alive);
          const killedAt = Date.now();
          process.kill(victim, 'SIGKILL');
          const fresh = await waitFor(() => [...markers(dir)].find(([pid]) => !before.has(pid)), `${name}: replacement`);
          ms.push(fresh[1] - killedAt);
        }
        samples[name].push({ ms, median: median(ms) });
        log(`  recovery round ${round + 1} ${name.padEnd(11)} ${ms.join('/')} ms`);
      });
    }
  }
  return { samples, params: { rounds, kills } };
}
