// Shared bench helpers: the targets under test (a single `node app.js`, a hand-written raw
// node:cluster primary, PM2 in cluster mode, nsup), started the same way on the same app, the
// load generator, a cleanup registry, and small statistics. Everything binds to 127.0.0.1 and
// every wait is bounded in time.
import autocannon from 'autocannon';
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const APP = join(ROOT, 'bench/apps/marker-server.js');
export const RAW = join(ROOT, 'bench/apps/raw-cluster.js');
// BENCH_NSUP: another build's bin/nsup.js to bench instead of this checkout's (A/B a change).
export const NSUP = process.env.BENCH_NSUP || join(ROOT, 'bin/nsup.js');
export const PM2 = join(ROOT, 'node_modules/.bin/pm2');
export const WORKERS = 2;

// BENCH_PIN=1 (off by default): the load generator (this process) runs on CPU 0 and every server
// process on the other CPUs (taskset), so the two never compete for a core; on a 2-core machine
// the servers then share one core and throughput measures their CPU cost per request.
const CPUS = os.availableParallelism();
export const PIN = process.env.BENCH_PIN === '1' && CPUS >= 2 ? { load: '0', servers: `1-${CPUS - 1}` } : null;
if (PIN) execFileSync('taskset', ['-a', '-pc', PIN.load, String(process.pid)], { stdio: 'ignore' });

/** [command, args] to spawn a server-side process (pinned with BENCH_PIN). */
export const serverCmd = (cmd, args) => (PIN ? ['taskset', ['-c', PIN.servers, cmd, ...args]] : [cmd, args]);

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

// ---------------------------------------------------------------------------------------------
// Statistics

export function median(values) {
  const list = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (list.length === 0) return null;
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median, min, max and count of the finite numbers in `values` (null when there are none). */
export function summary(values) {
  const list = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (list.length === 0) return null;
  return { median: median(list), min: Math.min(...list), max: Math.max(...list), n: list.length };
}

// ---------------------------------------------------------------------------------------------
// Processes

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** VmRSS of a process in kB, from /proc/<pid>/status (null if it is gone). */
export function rssKb(pid) {
  return memKb(pid)?.rss ?? null;
}

/**
 * VmRSS and RssAnon of a process in kB (null if it is gone). RssAnon is the process's own
 * memory (heap, stacks); the rest of VmRSS is mostly the node binary's code pages, which every
 * Node process maps and the kernel shares between them.
 */
export function memKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const anon = /^RssAnon:\s+(\d+) kB/m.exec(status);
    return rss ? { rss: Number(rss[1]), anon: anon ? Number(anon[1]) : null } : null;
  } catch {
    return null;
  }
}

/** Markers written by bench/apps/marker-server.js: pid → listen time (ms since the epoch). */
export function markers(dir) {
  const out = new Map();
  for (const name of readdirSync(dir)) {
    if (!/^\d+$/.test(name)) continue;
    out.set(Number(name), Number(readFileSync(join(dir, name), 'utf8')));
  }
  return out;
}

/** Pids of the marker files only (no reads): cheap enough to poll with many files. */
export function markerPids(dir) {
  return readdirSync(dir).filter((name) => /^\d+$/.test(name)).map(Number);
}

export async function waitFor(check, what, timeoutMs = 20_000, intervalMs = 2) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** One GET on 127.0.0.1:port without keep-alive: the status code, or null on any error. Bounded. */
export function httpStatus(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode));
      res.once('error', () => resolve(null));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(null));
  });
}

// ---------------------------------------------------------------------------------------------
// Cleanup: everything started registers how to stop it; Ctrl-C or a crash of the bench stops it all.

const cleanups = new Set();
let installed = false;

export function onCleanup(fn) {
  if (!installed) {
    installed = true;
    const bail = async (why) => {
      process.stderr.write(`\nbench: ${why}, stopping everything it started…\n`);
      await runCleanups();
      process.exit(1);
    };
    process.once('SIGINT', () => void bail('SIGINT'));
    process.once('SIGTERM', () => void bail('SIGTERM'));
    process.once('uncaughtException', (error) => void bail(`uncaught ${error.stack}`));
  }
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

export async function runCleanups() {
  for (const fn of [...cleanups]) {
    cleanups.delete(fn);
    try {
      await fn();
    } catch {}
  }
}

/** Stop an execa child: SIGTERM, SIGKILL after `graceMs`. (execa's subprocess has no usable exitCode.) */
async function stopChild(child, graceMs = 10_000) {
  const ended = child.then(() => true, () => true);
  const gone = () => Promise.race([ended, sleep(0).then(() => false)]);
  if (!(await gone())) child.kill('SIGTERM');
  if (await Promise.race([ended, sleep(graceMs).then(() => false)])) return;
  child.kill('SIGKILL');
  await Promise.race([ended, sleep(2000)]);
}

// ---------------------------------------------------------------------------------------------
// The targets: each starts `workers` copies of `script` listening on `port` (a single node process
// always runs one), and returns the pid of its primary/daemon and how to stop it.

export const TARGETS = {
  single: {
    start({ port, dir, script }) {
      const child = execa(...serverCmd(process.execPath, [script]), { env: { PORT: String(port), BENCH_DIR: dir }, reject: false, stdio: 'ignore' });
      return { child, pid: child.pid, stop: () => stopChild(child) };
    },
  },
  'raw cluster': {
    start({ port, dir, script, workers }) {
      const child = execa(...serverCmd(process.execPath, [RAW]), { env: { PORT: String(port), BENCH_DIR: dir, WORKERS: String(workers), APP_SCRIPT: script }, reject: false, stdio: 'ignore' });
      return { child, pid: child.pid, stop: () => stopChild(child) };
    },
  },
  pm2: {
    /** `pm2 start` in a private PM2_HOME (a fresh daemon); `pid` is the God daemon's. */
    start({ port, dir, script, workers, base }) {
      const env = pm2Env(base, { PORT: String(port), BENCH_DIR: dir });
      const child = execa(...serverCmd(PM2, ['start', script, '-i', String(workers), '--name', 'bench']), { env, stdio: 'ignore', reject: false, timeout: 30_000 });
      const daemonPid = () => pm2DaemonPid(base);
      return {
        child,
        command: child,
        get pid() {
          return daemonPid();
        },
        stop: async () => {
          await child;
          await execa(PM2, ['kill'], { env, stdio: 'ignore', reject: false, timeout: 30_000 });
          const daemon = daemonPid();
          if (daemon && alive(daemon)) process.kill(daemon, 'SIGKILL');
        },
      };
    },
  },
  nsup: { start: (opts) => startNsup(opts, {}) },
  /** `nsup start -d`: `command` resolves once the command returned (every worker up); `pid` is the command's, not the daemon's. */
  'nsup -d': { start: (opts) => startNsupDaemon(opts) },
  /** nsup with `sticky: true` (the sticky scenario compares it with plain round-robin). */
  'nsup sticky': { start: (opts) => startNsup(opts, { sticky: true }) },
};

/** `nsup start -c <config>` in the foreground: that process is the primary. */
function startNsup({ port, dir, script, workers, base }, extra) {
  const config = nsupConfig({ port, dir, script, workers, base }, extra);
  const child = execa(...serverCmd(process.execPath, [NSUP, 'start', '-c', config]), { env: { NSUP_HOME: join(base, 'nsup-home') }, reject: false, stdio: 'ignore' });
  return { child, pid: child.pid, stop: () => stopChild(child) };
}

function startNsupDaemon(opts) {
  const env = { NSUP_HOME: join(opts.base, 'nsup-home') };
  const child = execa(...serverCmd(process.execPath, [NSUP, 'start', '-c', nsupConfig(opts, {}), '-d']), { env, reject: false, stdio: 'ignore', timeout: 60_000 });
  return {
    child,
    command: child,
    pid: child.pid,
    stop: async () => {
      await child;
      await execa(process.execPath, [NSUP, 'stop', 'all'], { env, reject: false, stdio: 'ignore', timeout: 30_000 });
    },
  };
}

function nsupConfig({ port, dir, script, workers, base }, extra) {
  const config = join(base, 'nsup.config.mjs');
  // The default restart policy: the recovery scenario kills workers that have served 1.2 s,
  // which nsup replaces at once (a crash within the first second up would back off).
  const app = { name: 'bench', script, instances: workers, env: { PORT: String(port), BENCH_DIR: dir }, ...extra };
  writeFileSync(config, `export default { apps: [${JSON.stringify(app)}] };\n`);
  return config;
}

/** The PM2 God daemon's pid, from $PM2_HOME/pm2.pid (null before it wrote it). */
export function pm2DaemonPid(base) {
  try {
    return Number(readFileSync(join(base, 'pm2-home', 'pm2.pid'), 'utf8')) || null;
  } catch {
    return null;
  }
}

export function pm2Env(base, extra = {}) {
  return { ...process.env, PM2_HOME: join(base, 'pm2-home'), ...extra };
}

export const pm2 = (base, args, opts = {}) => execa(PM2, args, { env: pm2Env(base), stdio: 'ignore', reject: false, timeout: 60_000, ...opts });

/**
 * Start `name` on a fresh port with its own temp folder, wait until its workers listen, run `fn`,
 * then stop it and kill whatever it left behind. `copyApp`: run a copy of the app from the temp
 * folder (so a scenario can replace its code).
 */
export async function withTarget(name, fn, { workers = WORKERS, copyApp = false, waitListening = true } = {}) {
  const base = mkdtempSync(join(tmpdir(), 'nsup-bench-'));
  const dir = join(base, 'markers');
  mkdirSync(dir);
  let script = APP;
  if (copyApp) {
    mkdirSync(join(base, 'app'));
    script = join(base, 'app', 'app.js');
    copyFileSync(APP, script);
  }
  const port = await freePort();
  const count = name === 'single' ? 1 : workers;
  const running = TARGETS[name].start({ port, dir, script, workers: count, base });
  const stop = () => stopTarget(running, dir, base);
  const forget = onCleanup(stop);
  try {
    if (waitListening) await waitFor(() => markerPids(dir).filter(alive).length >= count, `${name}: ${count} workers listening`, 30_000, 5);
    await running.command;
    return await fn({ name, port, dir, base, script, running, get pid() { return running.pid; } });
  } finally {
    forget();
    await stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Load

/**
 * autocannon against 127.0.0.1:port, in this process. `close`: every request carries
 * `Connection: close`. Runs `seconds` (always bounded), or until `stop()`.
 * Failed requests = errors (connection errors and timeouts) + non-2xx answers.
 */
export function load({ port, close = false, connections = 20, seconds = 120, timeout = 10 }) {
  let instance;
  const done = new Promise((resolve, reject) => {
    instance = autocannon(
      {
        url: `http://127.0.0.1:${port}/`,
        connections,
        duration: seconds,
        timeout,
        headers: close ? { connection: 'close' } : {},
        ...(close ? { setupClient: forgetStaleRequests } : {}),
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
  // What each failed request was (the result only counts them): an error's code ('ECONNRESET',
  // 'ETIMEDOUT' for autocannon's own timeout …) or 'status <n>' for a non-2xx answer.
  const kinds = {};
  const note = (kind) => (kinds[kind] = (kinds[kind] ?? 0) + 1);
  instance.on('reqError', (error) => note(error?.code ?? error?.message ?? 'error'));
  instance.on('response', (_client, statusCode) => statusCode >= 300 && note(`status ${statusCode}`));
  const stopLoad = onCleanup(() => instance.stop());
  return {
    stop: () => instance.stop(),
    done: done.then((result) => {
      stopLoad();
      return Object.assign(result, { failureKinds: kinds });
    }),
  };
}

// autocannon 9 under `Connection: close`: after each response it writes the next request on the
// socket the server is closing, then reconnects on 'end' and sends another one, leaving the first
// in its queue of pending requests. Every later response is then timed from an ever older start
// and the latencies grow without bound (seconds after a few seconds of load), while the request
// count stays right. Clearing the queue on each (re)connect times every response from the request
// written on its own connection. (Its `reconnectRate: 1` does not help: it drops the responses.)
function forgetStaleRequests(client) {
  const connect = client._connect;
  client._connect = function (...args) {
    this.pipelinedRequests.clear();
    return connect.apply(this, args);
  };
}

export const failedOf = (result) => result.errors + result.non2xx;

/** Stop a started target, kill any of its workers still alive, remove its temp folder. */
export async function stopTarget(running, dir, base) {
  await running.stop();
  for (const pid of existsSync(dir) ? markerPids(dir) : []) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(base, { recursive: true, force: true });
}

/** utime + stime of a process from /proc/<pid>/stat, in clock ticks (10 ms on Linux); null once it is gone. */
export function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: the fields after it start past its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}
