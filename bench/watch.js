// Scenario: what watching costs (issue 15). A daemon with 2 idle workers, metrics and the
// dashboard on; then, each for `seconds`:
// - `nsup monit` in a pseudo-terminal (util-linux `script`), after a 3 s warm-up: its own CPU;
//   and `pm2 monit` the same way, against a PM2 daemon with the same app (its users report it
//   pegging a core: PM2 issues 2699, 2793);
// - the primary with no dashboard page open, then with one page's event stream connected: the
//   primary's CPU.
// CPU is user+sys from /proc/<pid>/stat (10 ms ticks), as a share of one core.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { APP, NSUP, PM2, cpuTicks, freePort, median, onCleanup, sleep, waitFor } from './lib.js';

export async function watch({ rounds = 3, seconds = 10, log = () => {} } = {}) {
  const samples = { monit: [], pm2Monit: [], dashboardIdle: [], dashboardOnePage: [] };
  for (let round = 0; round < rounds; round++) {
    const base = mkdtempSync(join(tmpdir(), 'nsup-bench-watch-'));
    const env = { ...process.env, NSUP_HOME: join(base, 'home'), PM2_HOME: join(base, 'pm2'), NO_COLOR: '', TERM: 'xterm-256color' };
    const stop = async () => {
      await execa(process.execPath, [NSUP, 'stop', 'all'], { env, reject: false, timeout: 30_000 });
      await execa(PM2, ['kill'], { env, reject: false, timeout: 30_000, stdio: 'ignore' });
      rmSync(base, { recursive: true, force: true });
    };
    const forget = onCleanup(stop);
    try {
      const metricsPort = await freePort();
      const args = ['start', APP, '-d', '-n', 'bench', '-i', '2', '--env', `PORT=${await freePort()}`, '--env', `BENCH_DIR=${base}`, '--metrics-port', String(metricsPort), '--dashboard'];
      await execa(process.execPath, [NSUP, ...args], { env, timeout: 30_000 });
      const primary = daemonPid(env.NSUP_HOME);
      samples.monit.push(await monitCpu(env, `${JSON.stringify(process.execPath)} ${JSON.stringify(NSUP)} monit`, seconds));
      await execa(PM2, ['start', APP, '-i', '2', '--name', 'bench'], { env: { ...env, PORT: String(await freePort()), BENCH_DIR: base }, timeout: 30_000, stdio: 'ignore' });
      samples.pm2Monit.push(await monitCpu(env, `${JSON.stringify(PM2)} monit`, seconds));
      await execa(PM2, ['kill'], { env, reject: false, timeout: 30_000, stdio: 'ignore' });
      samples.dashboardIdle.push(await cpuShare(primary, seconds));
      const page = http.get({ host: '127.0.0.1', port: metricsPort, path: '/api/events' }, (res) => res.resume());
      try {
        await sleep(1000);
        samples.dashboardOnePage.push(await cpuShare(primary, seconds));
      } finally {
        page.destroy();
      }
      log(
        `  watch round ${round + 1}: nsup monit ${pct(samples.monit.at(-1))} of a core, pm2 monit ${pct(samples.pm2Monit.at(-1))}; primary with the dashboard on ` +
          `${pct(samples.dashboardIdle.at(-1))}, with one page connected ${pct(samples.dashboardOnePage.at(-1))}`,
      );
    } finally {
      forget();
      await stop();
    }
  }
  return {
    samples,
    medians: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])),
    params: { rounds, seconds },
  };
}

// A monit command in a pty of its own; its CPU over `seconds` after a warm-up of 3 s.
async function monitCpu(env, command, seconds) {
  const term = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...env, COLUMNS: '140', LINES: '40' }, stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  try {
    let pid = null;
    await waitFor(() => (pid = findMonit(term.pid)) !== null, 'nsup monit running', 10_000, 20);
    await sleep(3000);
    return await cpuShare(pid, seconds);
  } finally {
    try {
      process.kill(-term.pid, 'SIGTERM');
    } catch {}
    await new Promise((resolve) => (term.exitCode !== null ? resolve() : term.once('exit', resolve)));
  }
}

// The node process under `script` (script → shell → node … monit; PM2's is named by its argv).
function findMonit(root) {
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop();
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('monit') && pid !== root) return pid;
      for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) stack.push(Number(task));
    } catch {}
  }
  return null;
}

function daemonPid(home) {
  const { readdirSync } = process.getBuiltinModule('node:fs');
  const sock = readdirSync(home).find((name) => /^\d+\.sock$/.test(name));
  if (!sock) throw new Error('no daemon socket');
  return Number(sock.split('.')[0]);
}

// CPU of `pid` over `seconds`, as a share of one core.
async function cpuShare(pid, seconds) {
  const before = cpuTicks(pid);
  const started = performance.now();
  await sleep(seconds * 1000);
  const after = cpuTicks(pid);
  if (before === null || after === null) throw new Error(`process ${pid} went away`);
  return ((after - before) * 10) / (performance.now() - started);
}

const pct = (share) => `${(share * 100).toFixed(2)}%`;

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await watch({ rounds: 1, log: console.log }), null, 1));
