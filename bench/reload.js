// Scenario: rolling reloads under load. Counts failed requests (errors, timeouts, non-2xx) seen by
// autocannon over N reloads, and how long each reload takes (trigger → every worker replaced).
import autocannon from 'autocannon';
import { execa } from 'execa';
import { join } from 'node:path';
import { ROOT, markers, median, sleep, waitFor, withSupervisor } from './lib.js';

const TRIGGERS = {
  'raw cluster': ({ pid }) => process.kill(pid, 'SIGHUP'),
  nsup: ({ pid }) => process.kill(pid, 'SIGHUP'),
  pm2: ({ dir }) => execa(join(ROOT, 'node_modules/.bin/pm2'), ['reload', 'bench'], { env: { ...process.env, PM2_HOME: join(dir, '..', 'pm2-home') }, stdio: 'ignore', timeout: 60_000 }),
};

export async function reload({ rounds = 3, reloads = 5, names = ['raw cluster', 'nsup', 'pm2'] } = {}) {
  const out = {};
  for (const mode of ['keep-alive', 'close']) {
    const samples = Object.fromEntries(names.map((name) => [name, { failed: [], requests: [], durations: [] }]));
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        await withSupervisor(name, 2, async (ctx) => {
          const { dir, alive, port } = ctx;
          let finish;
          const result = new Promise((resolve, reject) => (finish = (err, res) => (err ? reject(err) : resolve(res))));
          const load = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 20, duration: 120, timeout: 10, headers: mode === 'close' ? { connection: 'close' } : {} }, finish);
          await sleep(500);
          for (let r = 0; r < reloads; r++) {
            const before = new Set([...markers(dir).keys()].filter(alive));
            const started = Date.now();
            const trigger = TRIGGERS[name](ctx);
            await waitFor(() => {
              const now = [...markers(dir).keys()].filter(alive);
              return now.length === 2 && now.every((pid) => !before.has(pid)) && [...before].every((pid) => !alive(pid));
            }, `${name}: reload ${r + 1}`, 60_000);
            await trigger;
            samples[name].durations.push(Date.now() - started);
            await sleep(300);
          }
          load.stop();
          const res = await result;
          samples[name].failed.push(res.errors + res.timeouts + res.non2xx);
          samples[name].requests.push(res.requests.total);
        });
      }
    }
    out[mode] = Object.fromEntries(
      names.map((name) => {
        const s = samples[name];
        return [name, { failed: s.failed, failedMedian: median(s.failed), requestsMedian: median(s.requests), reloadMsMedian: median(s.durations), reloadMsMin: Math.min(...s.durations), reloadMsMax: Math.max(...s.durations) }];
      }),
    );
  }
  return out;
}
