// Scenario: rolling reloads under load. Counts failed requests (connection errors, timeouts,
// non-2xx) seen by autocannon over N reloads, and how long each reload takes (trigger → both
// workers replaced and the old ones gone). Raw cluster and nsup: SIGHUP to the primary;
// PM2: `pm2 reload bench`.
import { alive, failedOf, load, markerPids, median, pm2, sleep, waitFor, withTarget } from './lib.js';

export const NAMES = ['raw cluster', 'pm2', 'nsup'];

export const TRIGGERS = {
  'raw cluster': ({ pid }) => process.kill(pid, 'SIGHUP'),
  nsup: ({ pid }) => process.kill(pid, 'SIGHUP'),
  pm2: ({ base }) => pm2(base, ['reload', 'bench'], { timeout: 60_000 }),
};

export async function reload({ rounds = 3, reloads = 5, connections = 20, names = NAMES, log = () => {} } = {}) {
  const out = {};
  for (const [mode, close] of [['keep-alive', false], ['close', true]]) {
    // samples[name] = one entry per round: { failed, requests, durations: [ms per reload] }
    const samples = Object.fromEntries(names.map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        await withTarget(name, async (ctx) => {
          const { dir } = ctx;
          const running = load({ port: ctx.port, close, connections, seconds: 120 });
          const durations = [];
          try {
            await sleep(500);
            for (let r = 0; r < reloads; r++) {
              const before = new Set(markerPids(dir).filter(alive));
              const started = Date.now();
              const trigger = TRIGGERS[name](ctx);
              await waitFor(() => {
                const now = markerPids(dir).filter(alive);
                return now.length === 2 && now.every((pid) => !before.has(pid)) && [...before].every((pid) => !alive(pid));
              }, `${name}: reload ${r + 1}`, 60_000);
              await trigger;
              durations.push(Date.now() - started);
              await sleep(300);
            }
          } finally {
            running.stop();
          }
          const res = await running.done;
          const entry = { failed: failedOf(res), requests: res.requests.total, durations, reloadMs: median(durations) };
          samples[name].push(entry);
          log(`  reload ${mode.padEnd(10)} round ${round + 1} ${name.padEnd(11)} failed ${entry.failed} of ${entry.requests}, reload ${durations.join('/')} ms`);
        });
      }
    }
    out[mode] = samples;
  }
  return { samples: out, params: { rounds, reloads, connections } };
}
