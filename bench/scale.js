// Scenario: how the supervisor's cost grows with the number of workers (`npm run bench:scale`,
// BENCH_ONLY=scale). For 2, 8 and 32 workers, raw cluster, nsup and nsup with its metrics
// endpoint on are started afresh, interleaved per size (raw, nsup, nsup metrics at 2; the same at
// 8; …), and each run measures, in this order:
//
//   - start: spawn → every worker's marker file (listen() called back), and the primary's CPU time
//     over that span (its module loading included);
//   - idle, 2 s after serving: the primary's VmRSS and RssAnon (median of 5 readings) and its CPU
//     over 4 s, as % of one core;
//   - nsup: `nsup status --json` (same NSUP_HOME) 20 times: wall time per call, the primary's CPU
//     per call; nsup metrics: 20 GET /metrics after one unmeasured scrape: wall time, the
//     primary's and the workers' CPU per scrape, the body size. CPU per call is net of the idle
//     rate just measured;
//   - raw cluster and nsup: one rolling reload, SIGHUP → every worker replaced and the old ones
//     gone: wall time and the primary's CPU over it;
//   - stop: SIGTERM → the primary exited (every worker drained or killed).
//
// CPU time is read from /proc/<pid>/task/*/schedstat (nanoseconds, summed over the threads), so a
// 1 ms cost per call is visible; /proc/<pid>/stat (10 ms ticks) where schedstat is missing. Every
// wait is bounded, and scaled with the worker count (32 workers on 2 cores start slowly).
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP, NSUP, TARGETS, alive, freePort, markerPids, markers, median, memKb, onCleanup, serverCmd, sleep, stopTarget, waitFor } from './lib.js';

// 'nsup metrics' is nsup with its metrics endpoint on (prom-client loaded, its event-loop
// monitors running): it gives the /metrics scrape cost and what metrics add to the idle primary,
// so 'nsup' itself is measured as configured by default.
export const NAMES = ['raw cluster', 'nsup', 'nsup metrics'];
export const SIZES = [2, 8, 32];

export async function scale({ rounds = 3, sizes = SIZES, names = NAMES, calls = 20, idleMs = 4000, settleMs = 2000, log = () => {} } = {}) {
  // samples[size][name] = one entry per round (see measure()).
  const samples = Object.fromEntries(sizes.map((n) => [n, Object.fromEntries(names.map((name) => [name, []]))]));
  for (let round = 0; round < rounds; round++) {
    for (const n of sizes) {
      for (const name of names) {
        const run = await measure(name, n, { calls, idleMs, settleMs });
        samples[n][name].push(run);
        log(`  scale round ${round + 1} ${String(n).padStart(2)} workers ${name.padEnd(11)} ${describe(run)}`);
      }
    }
  }
  return { samples, params: { rounds, sizes, names, calls, idleMs, settleMs, cpuSource: CPU_SOURCE } };
}

async function measure(name, n, { calls, idleMs, settleMs }) {
  const base = mkdtempSync(join(tmpdir(), 'nsup-bench-scale-'));
  const dir = join(base, 'markers');
  mkdirSync(dir);
  const port = await freePort();
  const metricsPort = name === 'nsup metrics' ? await freePort() : null;
  const spawnedAt = Date.now();
  const running = name === 'raw cluster' ? TARGETS[name].start({ port, dir, script: APP, workers: n, base }) : startNsup({ port, dir, base, workers: n, metricsPort });
  const stop = () => stopTarget(running, dir, base);
  const forget = onCleanup(stop);
  const { pid } = running;
  let run = null;
  try {
    // Start: every worker listening.
    await waitFor(() => markerPids(dir).length >= n, `${name}: ${n} workers listening`, 30_000 + 1000 * n, 5);
    const startCpuMs = cpuMs(pid);
    const startMs = Math.max(...markers(dir).values()) - spawnedAt;

    // Idle: memory, then CPU over idleMs.
    await sleep(settleMs);
    const mem = [];
    for (let i = 0; i < 5; i++) {
      mem.push(memKb(pid));
      await sleep(100);
    }
    const idle = await cpuOver(pid, () => sleep(idleMs));
    const idleRate = idle.cpuMs / idle.wallMs; // CPU-ms per wall-ms
    run = {
      startMs,
      startCpuMs: round1(startCpuMs),
      rssKb: median(mem.map((m) => m?.rss)),
      anonKb: median(mem.map((m) => m?.anon)),
      idleCpuPct: round2(idleRate * 100),
    };

    if (name === 'nsup') Object.assign(run, await scrapeStatus(pid, running.env, n, calls, idleRate));
    if (name === 'nsup metrics') {
      Object.assign(run, await scrapeMetrics(pid, dir, metricsPort, calls, idleRate));
      return run;
    }

    // One rolling reload: every worker replaced, the old ones gone.
    const before = markerPids(dir).filter(alive);
    const reload = await cpuOver(pid, async () => {
      process.kill(pid, 'SIGHUP');
      await waitFor(() => {
        const now = markerPids(dir).filter(alive);
        return now.length === n && now.every((p) => !before.includes(p)) && before.every((p) => !alive(p));
      }, `${name}: rolling reload of ${n} workers`, 30_000 + 1500 * n, 10);
    });
    run.reloadMs = Math.round(reload.wallMs);
    run.reloadCpuMs = round1(reload.cpuMs);
    return run;
  } finally {
    forget();
    const stopping = performance.now();
    await stop();
    if (run) run.stopMs = Math.round(performance.now() - stopping);
  }
}

/** `calls` runs of `nsup status --json`: wall time per call, the primary's CPU per call (net of idle). */
async function scrapeStatus(pid, env, n, calls, idleRate) {
  const wall = [];
  const cost = await cpuOver(pid, async () => {
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      const result = await execa(process.execPath, [NSUP, 'status', '--json'], { env, timeout: 30_000 });
      wall.push(performance.now() - t0);
      const workers = JSON.parse(result.stdout).supervisors?.[0]?.apps?.[0]?.workers?.length;
      if (workers !== n) throw new Error(`nsup status listed ${workers} workers, expected ${n}: ${result.stdout.slice(0, 200)}`);
    }
  });
  return { statusMs: round1(median(wall)), statusCpuMs: round2(netPerCall(cost, idleRate, calls)) };
}

/** One unmeasured scrape (workers without prom-client are then no longer waited for), then `calls`. */
async function scrapeMetrics(pid, dir, port, calls, idleRate) {
  await get(port, '/metrics');
  const workers = markerPids(dir).filter(alive);
  const workersBefore = workers.reduce((sum, p) => sum + cpuMs(p), 0);
  const wall = [];
  let bytes = 0;
  const cost = await cpuOver(pid, async () => {
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      const res = await get(port, '/metrics');
      wall.push(performance.now() - t0);
      if (res.status !== 200 || !res.body.includes('nsup_workers_up')) throw new Error(`GET /metrics answered ${res.status}: ${res.body.slice(0, 200)}`);
      bytes = res.body.length;
    }
  });
  const workersMs = workers.reduce((sum, p) => sum + cpuMs(p), 0) - workersBefore;
  return {
    metricsMs: round1(median(wall)),
    metricsCpuMs: round2(netPerCall(cost, idleRate, calls)),
    metricsWorkersCpuMs: round2(workersMs / calls),
    metricsKb: round1(bytes / 1024),
  };
}

/** `nsup start -c <config>` in the foreground, as TARGETS.nsup; with the metrics endpoint on when given a port. */
function startNsup({ port, dir, base, workers, metricsPort }) {
  const config = join(base, 'nsup.config.mjs');
  const app = { name: 'bench', script: APP, instances: workers, env: { PORT: String(port), BENCH_DIR: dir } };
  const metrics = metricsPort === null ? '' : `, metrics: { port: ${metricsPort} }`;
  writeFileSync(config, `export default { apps: [${JSON.stringify(app)}]${metrics} };\n`);
  const env = { ...process.env, NSUP_HOME: join(base, 'nsup-home') };
  const child = execa(...serverCmd(process.execPath, [NSUP, 'start', '-c', config]), { env, reject: false, stdio: 'ignore' });
  return {
    child,
    pid: child.pid,
    env,
    // SIGTERM drains every worker; 32 of them on 2 cores get 30 s before SIGKILL.
    stop: async () => {
      const ended = child.then(() => true, () => true);
      child.kill('SIGTERM');
      if (await Promise.race([ended, sleep(30_000).then(() => false)])) return;
      child.kill('SIGKILL');
      await Promise.race([ended, sleep(2000)]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

const CPU_SOURCE = (() => {
  try {
    readFileSync('/proc/self/schedstat', 'utf8');
    return 'schedstat';
  } catch {
    return 'stat';
  }
})();

/** CPU time (user + system) of a process so far, in ms (0 once it is gone). */
function cpuMs(pid) {
  try {
    if (CPU_SOURCE === 'schedstat') {
      let ns = 0;
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        try {
          ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
        } catch {}
      }
      return ns / 1e6;
    }
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** Run `fn`; the primary's CPU ms and the wall ms over it. */
async function cpuOver(pid, fn) {
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  await fn();
  return { cpuMs: cpuMs(pid) - cpu0, wallMs: performance.now() - t0 };
}

// The primary's CPU per call, without what it spends idle over the same wall time.
const netPerCall = (cost, idleRate, calls) => Math.max(0, cost.cpuMs - idleRate * cost.wallMs) / calls;

function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.once('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${path} timed out after 10 s`)));
    req.once('error', reject);
  });
}

const round1 = (v) => Math.round(v * 10) / 10;
const round2 = (v) => Math.round(v * 100) / 100;

function describe(r) {
  const mb = (kb) => (kb / 1024).toFixed(1);
  const parts = [`start ${r.startMs} ms (cpu ${r.startCpuMs})`, `RSS ${mb(r.rssKb)} MB (anon ${mb(r.anonKb)})`, `idle ${r.idleCpuPct}%`];
  if (r.reloadMs !== undefined) parts.push(`reload ${r.reloadMs} ms (cpu ${r.reloadCpuMs})`);
  if (r.statusMs !== undefined) parts.push(`status ${r.statusMs} ms (cpu ${r.statusCpuMs})`);
  if (r.metricsMs !== undefined) parts.push(`metrics ${r.metricsMs} ms (cpu ${r.metricsCpuMs}, workers ${r.metricsWorkersCpuMs}, ${r.metricsKb} KB)`);
  return parts.join(', ');
}
