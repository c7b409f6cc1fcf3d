// Scenario: wall time of the status CLI against a running daemon with 2 workers:
// `nsup status --json` (against `nsup start -d`) vs `pm2 jlist`, alternated call by call.
// Each round starts both daemons afresh (private NSUP_HOME and PM2_HOME) and makes `calls`
// calls of each; the round's figure is the median of its calls.
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP, NSUP, PM2, freePort, median, onCleanup } from './lib.js';

export const NAMES = ['pm2', 'nsup'];

export async function status({ rounds = 3, calls = 20, log = () => {} } = {}) {
  // samples[name] = one entry per round: { ms: [one per call], median }
  const samples = { pm2: [], nsup: [] };
  for (let round = 0; round < rounds; round++) {
    const base = mkdtempSync(join(tmpdir(), 'nsup-bench-status-'));
    const env = { ...process.env, NSUP_HOME: join(base, 'nsup'), PM2_HOME: join(base, 'pm2') };
    const stop = async () => {
      await execa(process.execPath, [NSUP, 'stop', 'all'], { env, reject: false, timeout: 30_000 });
      await execa(PM2, ['kill'], { env, reject: false, timeout: 30_000, stdio: 'ignore' });
      rmSync(base, { recursive: true, force: true });
    };
    const forget = onCleanup(stop);
    const times = { pm2: [], nsup: [] };
    try {
      await execa(process.execPath, [NSUP, 'start', APP, '-d', '-n', 'bench', '-i', '2', '--env', `PORT=${await freePort()}`, '--env', `BENCH_DIR=${base}`], { env, timeout: 30_000 });
      await execa(PM2, ['start', APP, '-i', '2', '--name', 'bench'], { env: { ...env, PORT: String(await freePort()), BENCH_DIR: base }, timeout: 30_000, stdio: 'ignore' });
      const commands = { nsup: [process.execPath, [NSUP, 'status', '--json']], pm2: [PM2, ['jlist']] };
      for (let i = 0; i < calls; i++) {
        for (const name of NAMES) {
          const [cmd, args] = commands[name];
          const started = performance.now();
          const result = await execa(cmd, args, { env, timeout: 30_000 });
          times[name].push(Math.round((performance.now() - started) * 10) / 10);
          if (!result.stdout.includes('bench')) throw new Error(`${name} status did not list the app`);
        }
      }
    } finally {
      forget();
      await stop();
    }
    for (const name of NAMES) samples[name].push({ ms: times[name], median: median(times[name]) });
    log(`  status round ${round + 1}: nsup status --json ${median(times.nsup).toFixed(1)} ms, pm2 jlist ${median(times.pm2).toFixed(1)} ms (medians of ${calls})`);
  }
  return { samples, params: { rounds, calls } };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await status({ log: console.log }), null, 1));
