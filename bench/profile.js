// Where the CPU goes during the throughput run (not part of `npm run bench`):
//
//   node bench/profile.js [target…]      targets: nsup, raw (default: both), e.g. `node bench/profile.js nsup`
//   PROFILE_SECONDS=10 PROFILE_MODES=keep-alive,close
//
// Starts the target with `node --cpu-prof` on the primary and on both workers, loads it like the
// throughput scenario (50 connections, keep-alive then `Connection: close`), stops it gracefully
// (so every process writes its .cpuprofile), then prints per process the top self-time functions
// and the self time per origin (Node internals, nsup's dist/, node_modules packages, the app).
// One profile covers both modes unless PROFILE_MODES names one. The raw cluster's workers get a
// preload that exits on SIGTERM (else a signalled process writes no profile).
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP, NSUP, RAW, WORKERS, alive, freePort, load, markerPids, onCleanup, runCleanups, sleep, waitFor } from './lib.js';

const seconds = Number(process.env.PROFILE_SECONDS ?? 10);
const modes = (process.env.PROFILE_MODES ?? 'keep-alive,close').split(',');
const targets = process.argv.slice(2).length ? process.argv.slice(2) : ['raw', 'nsup'];

/** Self time per function and per origin of one .cpuprofile. */
export function summarize(file, top = 15) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const fns = new Map();
  const origins = new Map();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const origin = originOf(functionName, url);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
  }
  const rank = (map) => [...map].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: Math.round(us / 1000), pct: Math.round((us / total) * 1000) / 10 }));
  const idle = (fns.get('(idle) ') ?? 0) / total;
  return { totalMs: Math.round(total / 1000), busyPct: Math.round((1 - idle) * 1000) / 10, functions: rank(fns).slice(0, top), origins: rank(origins) };
}

function shortUrl(url) {
  if (!url) return '';
  return url.replace(/^file:\/\/.*\/node_modules\//, '').replace(/^file:\/\/.*\/(dist|bench)\//, '$1/');
}

function originOf(functionName, url) {
  if (!url) return functionName.startsWith('(') ? functionName : '(native / builtins)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `node_modules/${pkg[1]}`;
  if (url.includes('/dist/')) return 'nsup dist/';
  return 'app';
}

async function profileTarget(target) {
  const base = mkdtempSync(join(tmpdir(), 'nsup-bench-prof-'));
  const dir = join(base, 'markers');
  const profiles = join(base, 'profiles');
  mkdirSync(dir);
  mkdirSync(profiles);
  const port = await freePort();
  const prof = ['--cpu-prof', `--cpu-prof-dir=${profiles}`];
  let child;
  if (target === 'nsup') {
    const config = join(base, 'nsup.config.mjs');
    writeFileSync(config, `export default { apps: [{ name: 'bench', script: ${JSON.stringify(APP)}, instances: ${WORKERS}, nodeArgs: ${JSON.stringify(prof)}, env: { PORT: '${port}', BENCH_DIR: ${JSON.stringify(dir)} } }] };\n`);
    child = execa(process.execPath, [...prof, NSUP, 'start', '-c', config], { env: { NSUP_HOME: join(base, 'home') }, reject: false, stdio: 'ignore' });
  } else {
    const preload = join(base, 'exit-on-term.mjs');
    writeFileSync(preload, `import cluster from 'node:cluster';\nif (cluster.isWorker) process.on('SIGTERM', () => process.exit(0));\n`);
    child = execa(process.execPath, [...prof, '--import', preload, RAW], { env: { PORT: String(port), BENCH_DIR: dir, WORKERS: String(WORKERS), APP_SCRIPT: APP }, reject: false, stdio: 'ignore' });
  }
  const primaryPid = child.pid;
  const forget = onCleanup(async () => {
    child.kill('SIGKILL');
    for (const pid of markerPids(dir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  try {
    await waitFor(() => markerPids(dir).filter(alive).length >= WORKERS, `${target}: workers listening`, 30_000, 5);
    const workerPids = markerPids(dir);
    await sleep(300);
    const rps = {};
    for (const mode of modes) {
      await load({ port, close: mode === 'close', connections: 50, seconds: 1 }).done;
      const res = await load({ port, close: mode === 'close', connections: 50, seconds }).done;
      rps[mode] = Math.round(res.requests.total / res.duration);
    }
    child.kill('SIGTERM');
    await Promise.race([child, sleep(15_000)]);
    await waitFor(() => readdirSync(profiles).length >= 1 + WORKERS, `${target}: ${1 + WORKERS} profiles`, 10_000, 50).catch(() => {});
    const files = readdirSync(profiles).filter((f) => f.endsWith('.cpuprofile'));
    const roleOf = (f) => {
      const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1]);
      return pid === primaryPid ? 'primary' : workerPids.includes(pid) ? `worker ${pid}` : `pid ${pid}`;
    };
    return { target, rps, profiles: files.map((f) => ({ role: roleOf(f), file: f, ...summarize(join(profiles, f)) })) };
  } finally {
    forget();
    child.kill('SIGKILL');
    for (const pid of markerPids(dir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    for (const target of targets) {
      const result = await profileTarget(target);
      console.log(`\n=== ${target}: ${Object.entries(result.rps).map(([m, r]) => `${m} ${r} req/s`).join(', ')} (${seconds} s each, under --cpu-prof)`);
      for (const p of result.profiles.sort((a, b) => a.role.localeCompare(b.role))) {
        console.log(`\n--- ${p.role}: ${p.totalMs} ms sampled, busy ${p.busyPct}%`);
        console.log('  by origin:      ' + p.origins.slice(0, 8).map((o) => `${o.name} ${o.pct}%`).join(', '));
        for (const f of p.functions) console.log(`  ${String(f.pct).padStart(5)}%  ${String(f.ms).padStart(6)} ms  ${f.name}`);
      }
    }
  } finally {
    await runCleanups();
  }
}
