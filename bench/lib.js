// Shared bench helpers: the supervisors under test (raw cluster, nsup, PM2), started the same
// way on the same app, and small statistics. Everything binds to 127.0.0.1 and is bounded in time.
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const APP = join(ROOT, 'bench/apps/marker-server.js');
const PM2 = join(ROOT, 'node_modules/.bin/pm2');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Markers written by bench/apps/marker-server.js: pid → listen time (ms). */
export function markers(dir) {
  const out = new Map();
  for (const name of readdirSync(dir)) out.set(Number(name), Number(readFileSync(join(dir, name), 'utf8')));
  return out;
}

export async function waitFor(check, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(2);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The supervisors compared, each able to start `workers` copies of the marker app and stop them. */
export const SUPERVISORS = {
  'raw cluster': async ({ port, dir, workers }) => {
    const proc = execa(process.execPath, [join(ROOT, 'bench/apps/raw-cluster.js')], {
      env: { PORT: String(port), BENCH_DIR: dir, WORKERS: String(workers) }, reject: false, stdio: 'ignore',
    });
    return { pid: proc.pid, stop: async () => { proc.kill('SIGTERM'); await Promise.race([proc, sleep(10_000)]); proc.kill('SIGKILL'); } };
  },
  nsup: async ({ port, dir, workers }) => {
    const config = join(dir, '..', 'nsup.config.mjs');
    writeFileSync(config, `export default { apps: [{ name: 'bench', script: ${JSON.stringify(APP)}, instances: ${workers}, env: { PORT: '${port}', BENCH_DIR: ${JSON.stringify(dir)} }, restart: { minUptime: '1s' } }] };`);
    const proc = execa(process.execPath, [join(ROOT, 'bin/nsup.js'), 'start', '-c', config], { reject: false, stdio: 'ignore' });
    return { pid: proc.pid, stop: async () => { proc.kill('SIGTERM'); await Promise.race([proc, sleep(10_000)]); proc.kill('SIGKILL'); } };
  },
  pm2: async ({ port, dir, workers }) => {
    const home = join(dir, '..', 'pm2-home');
    const env = { ...process.env, PM2_HOME: home, PORT: String(port), BENCH_DIR: dir };
    await execa(PM2, ['start', APP, '-i', String(workers), '--name', 'bench'], { env, stdio: 'ignore', timeout: 30_000 });
    const pid = Number(readFileSync(join(home, 'pm2.pid'), 'utf8'));
    return { pid, stop: async () => { await execa(PM2, ['kill'], { env, stdio: 'ignore', reject: false, timeout: 30_000 }); } };
  },
};

/** Run `fn` with a started supervisor; always stops it and removes its temp folder. */
export async function withSupervisor(name, workers, fn) {
  const base = mkdtempSync(join(tmpdir(), 'nsup-bench-'));
  const dir = join(base, 'markers');
  (await import('node:fs')).mkdirSync(dir);
  const port = await freePort();
  const running = await SUPERVISORS[name]({ port, dir, workers });
  try {
    await waitFor(() => [...markers(dir).keys()].filter(alive).length >= workers, `${name}: ${workers} workers listening`);
    return await fn({ port, dir, alive, pid: running.pid });
  } finally {
    await running.stop();
    for (const pid of markers(dir).keys()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(base, { recursive: true, force: true });
  }
}
