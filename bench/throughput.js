// Scenario: throughput and latency of the same "ok" HTTP app, 2 workers (a single node process:
// one), loaded by autocannon on 127.0.0.1 with keep-alive and with `Connection: close` on every
// request. One start per target and round; each load runs after a short warm-up. Also the
// workers' CPU time per request: user+sys of the worker processes (/proc/<pid>/stat; the pids of
// the marker files, the single process itself for 'single') over the measured load, divided by the
// requests served in it. On a shared 2-core machine req/s moves with whatever else runs; CPU per
// request is what the worker's own code costs, and it moves much less.
//
//   BENCH_THROUGHPUT_SECONDS=10    length of each measured load (for quick A/B runs: 5)
import { cpuTicks, load, markerPids, sleep, withTarget } from './lib.js';

export const NAMES = ['single', 'raw cluster', 'pm2', 'nsup'];
export const MODES = { 'keep-alive': { close: false }, close: { close: true } };
const SECONDS = Number(process.env.BENCH_THROUGHPUT_SECONDS) || 10;

export async function throughput({ rounds = 3, seconds = SECONDS, warmup = 1, connections = 50, names = NAMES, log = () => {} } = {}) {
  // samples[mode][name] = one entry per round: { rps, p50, p99, requests, failed, workerCpuUs }
  const samples = Object.fromEntries(Object.keys(MODES).map((mode) => [mode, Object.fromEntries(names.map((n) => [n, []]))]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      await withTarget(name, async ({ port, dir }) => {
        await sleep(300);
        const workers = markerPids(dir);
        for (const [mode, { close }] of Object.entries(MODES)) {
          await load({ port, close, connections, seconds: warmup }).done;
          const before = workers.map(cpuTicks);
          const res = await load({ port, close, connections, seconds }).done;
          const ticks = workers.reduce((sum, pid, i) => sum + (cpuTicks(pid) ?? NaN) - before[i], 0);
          const entry = {
            rps: Math.round(res.requests.total / (res.duration || seconds)),
            p50: res.latency.p50,
            p99: res.latency.p99,
            requests: res.requests.total,
            failed: res.errors + res.non2xx,
            // µs of worker CPU per request (a tick is 10 ms); NaN if a worker went away meanwhile.
            workerCpuUs: res.requests.total > 0 ? (ticks * 10_000) / res.requests.total : NaN,
          };
          samples[mode][name].push(entry);
          log(`  throughput ${mode.padEnd(10)} round ${round + 1} ${name.padEnd(11)} ${entry.rps} req/s, p50 ${entry.p50} ms, p99 ${entry.p99} ms, worker CPU ${entry.workerCpuUs.toFixed(1)} µs/req`);
        }
      });
    }
  }
  return { samples, params: { rounds, seconds, warmup, connections } };
}
