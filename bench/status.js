// Scenario: wall time of the status CLI against a running daemon with 2 workers:
// `nsup status --json` vs `pm2 jlist`, interleaved runs, medians and their ratio.
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort, median } from './lib.js';

const APP = join(ROOT, 'bench/apps/marker-server.js');
const NSUP = join(ROOT, 'bin/nsup.js');
const PM2 = join(ROOT, 'node_modules/.bin/pm2');

export async function status({ runs = 20 } = {}) {
  const base = mkdtempSync(join(tmpdir(), 'nsup-bench-status-'));
  const env = { ...process.env, NSUP_HOME: join(base, 'nsup'), PM2_HOME: join(base, 'pm2') };
  const nsupPort = await freePort();
  const pm2Port = await freePort();
  const times = { nsup: [], pm2: [] };
  try {
    await execa(process.execPath, [NSUP, 'start', APP, '-d', '-n', 'bench', '-i', '2', '--env', `PORT=${nsupPort}`], { env, timeout: 30_000 });
    await execa(PM2, ['start', APP, '-i', '2', '--name', 'bench'], { env: { ...env, PORT: String(pm2Port) }, timeout: 30_000, stdio: 'ignore' });
    const commands = { nsup: [process.execPath, [NSUP, 'status', '--json']], pm2: [PM2, ['jlist']] };
    for (let i = 0; i < runs; i++) {
      for (const name of ['nsup', 'pm2']) {
        const [cmd, args] = commands[name];
        const started = performance.now();
        const result = await execa(cmd, args, { env, timeout: 30_000 });
        times[name].push(performance.now() - started);
        if (!result.stdout.includes('bench')) throw new Error(`${name} status did not list the app`);
      }
    }
  } finally {
    await execa(process.execPath, [NSUP, 'stop', 'all'], { env, reject: false, timeout: 30_000 });
    await execa(PM2, ['kill'], { env, reject: false, timeout: 30_000, stdio: 'ignore' });
    rmSync(base, { recursive: true, force: true });
  }
  const summary = (t) => ({ medianMs: Math.round(median(t)), minMs: Math.round(Math.min(...t)), maxMs: Math.round(Math.max(...t)), n: t.length });
  return { nsup: summary(times.nsup), pm2: summary(times.pm2), ratio: median(times.nsup) / median(times.pm2) };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await status());
