// Scenario: throughput and latency of the same "ok" HTTP app, 2 workers (a single node process:
// one), loaded by autocannon on 127.0.0.1 with keep-alive and with `Connection: close` on every
// request. One start per target and round; each load runs after a short warm-up.
import { load, sleep, withTarget } from './lib.js';

export const NAMES = ['single', 'raw cluster', 'pm2', 'nsup'];
export const MODES = { 'keep-alive': { close: false }, close: { close: true } };

export async function throughput({ rounds = 3, seconds = 10, warmup = 1, connections = 50, names = NAMES, log = () => {} } = {}) {
  // samples[mode][name] = one entry per round: { rps, p50, p99, requests, failed }
  const samples = Object.fromEntries(Object.keys(MODES).map((mode) => [mode, Object.fromEntries(names.map((n) => [n, []]))]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      await withTarget(name, async ({ port }) => {
        await sleep(300);
        for (const [mode, { close }] of Object.entries(MODES)) {
          await load({ port, close, connections, seconds: warmup }).done;
          const res = await load({ port, close, connections, seconds }).done;
          const entry = {
            rps: Math.round(res.requests.total / (res.duration || seconds)),
            p50: res.latency.p50,
            p99: res.latency.p99,
            requests: res.requests.total,
            failed: res.errors + res.non2xx,
          };
          samples[mode][name].push(entry);
          log(`  throughput ${mode.padEnd(10)} round ${round + 1} ${name.padEnd(11)} ${entry.rps} req/s, p50 ${entry.p50} ms, p99 ${entry.p99} ms`);
        }
      });
    }
  }
  return { samples, params: { rounds, seconds, warmup, connections } };
}
