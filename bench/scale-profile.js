// Where the nsup primary's cost per worker goes (not part of `npm run bench`):
//
//   node bench/scale-profile.js [workers…]     default: 2 32
//   PROFILE_OUT=/tmp/dir                       keep the .cpuprofile and .heapsnapshot files there
//
// For each worker count, starts nsup (metrics on) with the inspector on the primary, and takes one
// CPU profile per phase through the inspector protocol (so each phase has its own profile, unlike
// --cpu-prof, which covers the whole process): idle (10 s), 50 `nsup status --json`, 50 GET
// /metrics, 3 rolling reloads. Then a heap snapshot after a forced GC. Prints per phase the busy
// time and the top self-time functions (bench/profile.js's summary), and, with two worker counts,
// the heap's growth per added worker by constructor.
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP, NSUP, alive, freePort, markerPids, onCleanup, runCleanups, sleep, waitFor } from './lib.js';
import { summarize } from './profile.js';

const sizes = process.argv.slice(2).length ? process.argv.slice(2).map(Number) : [2, 32];
const keep = process.env.PROFILE_OUT;

async function profileSize(n) {
  const base = mkdtempSync(join(tmpdir(), 'nsup-bench-scaleprof-'));
  const out = keep ? join(keep, `n${n}`) : join(base, 'profiles');
  mkdirSync(out, { recursive: true });
  const dir = join(base, 'markers');
  mkdirSync(dir);
  const [port, metricsPort, inspectPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(base, 'nsup.config.mjs');
  const app = { name: 'bench', script: APP, instances: n, env: { PORT: String(port), BENCH_DIR: dir } };
  writeFileSync(config, `export default { apps: [${JSON.stringify(app)}], metrics: { port: ${metricsPort} } };\n`);
  const env = { ...process.env, NSUP_HOME: join(base, 'home') };
  const child = execa(process.execPath, [`--inspect=127.0.0.1:${inspectPort}`, NSUP, 'start', '-c', config], { env, reject: false, stdio: 'ignore' });
  const kill = async () => {
    child.kill('SIGTERM');
    await Promise.race([child, sleep(30_000)]);
    child.kill('SIGKILL');
    for (const pid of markerPids(dir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (!keep) rmSync(base, { recursive: true, force: true });
  };
  const forget = onCleanup(kill);
  let session;
  try {
    await waitFor(() => markerPids(dir).length >= n, `${n} workers listening`, 30_000 + 1000 * n, 10);
    await sleep(3000);
    session = await inspect(inspectPort);
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: 100 });
    const phases = {
      idle: () => sleep(10_000),
      status: async () => {
        for (let i = 0; i < 50; i++) await execa(process.execPath, [NSUP, 'status', '--json'], { env, timeout: 30_000 });
      },
      metrics: async () => {
        await get(metricsPort, '/metrics');
        for (let i = 0; i < 50; i++) await get(metricsPort, '/metrics');
      },
      reload: async () => {
        for (let r = 0; r < 3; r++) {
          const before = markerPids(dir).filter(alive);
          process.kill(child.pid, 'SIGHUP');
          await waitFor(() => {
            const now = markerPids(dir).filter(alive);
            return now.length === n && now.every((p) => !before.includes(p)) && before.every((p) => !alive(p));
          }, `reload ${r + 1} of ${n} workers`, 30_000 + 1500 * n, 10);
        }
      },
    };
    const result = { n, phases: {} };
    for (const [phase, run] of Object.entries(phases)) {
      await session.send('Profiler.start');
      const t0 = performance.now();
      await run();
      const wallMs = performance.now() - t0;
      const { profile } = await session.send('Profiler.stop');
      const file = join(out, `${phase}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      result.phases[phase] = { wallMs: Math.round(wallMs), ...summarize(file, 20) };
    }
    await session.send('HeapProfiler.enable');
    await session.send('HeapProfiler.collectGarbage');
    const chunks = [];
    session.onEvent = (method, params) => method === 'HeapProfiler.addHeapSnapshotChunk' && chunks.push(params.chunk);
    await session.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    const text = chunks.join('');
    if (keep) writeFileSync(join(out, 'primary.heapsnapshot'), text);
    result.heap = heapByConstructor(JSON.parse(text));
    return result;
  } finally {
    session?.close();
    forget();
    await kill();
  }
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
async function inspect(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot connect to the inspector on port ${port}`));
  });
  let id = 0;
  const waiting = new Map();
  const session = {
    onEvent: () => {},
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`inspector: ${method} got no answer in 120 s`)), 120_000);
        waiting.set(++id, { resolve, reject, timer });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
  ws.onmessage = ({ data }) => {
    const message = JSON.parse(data);
    if (message.id === undefined) return session.onEvent(message.method, message.params);
    const entry = waiting.get(message.id);
    waiting.delete(message.id);
    clearTimeout(entry.timer);
    if (message.error) entry.reject(new Error(`inspector: ${message.error.message}`));
    else entry.resolve(message.result);
  };
  return session;
}

/** Self size and count per constructor (objects, closures, strings, code…) of a .heapsnapshot. */
function heapByConstructor(snapshot) {
  const { node_fields: fields, node_types: [types] } = snapshot.snapshot.meta;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const by = new Map();
  const { nodes, strings } = snapshot;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const name = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${strings[nodes[i + nameAt]]}` : `(${type})`;
    const entry = by.get(name) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += nodes[i + sizeAt];
    by.set(name, entry);
  }
  return by;
}

function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.once('error', reject);
  });
}

try {
  const results = [];
  for (const n of sizes) results.push(await profileSize(n));
  for (const r of results) {
    console.log(`\n=== ${r.n} workers`);
    for (const [phase, p] of Object.entries(r.phases)) {
      const busyMs = Math.round((p.totalMs * p.busyPct) / 100);
      console.log(`\n--- ${phase}: ${p.wallMs} ms wall, ${busyMs} ms busy on the main thread (${p.busyPct}%)`);
      console.log('  by origin: ' + p.origins.slice(0, 8).map((o) => `${o.name} ${o.pct}%`).join(', '));
      for (const f of p.functions) console.log(`  ${String(f.pct).padStart(5)}%  ${String(f.ms).padStart(6)} ms  ${f.name}`);
    }
    const total = [...r.heap.values()].reduce((sum, e) => sum + e.bytes, 0);
    console.log(`\n--- heap after GC: ${(total / 1024 / 1024).toFixed(1)} MB`);
  }
  if (results.length >= 2) {
    const [a, b] = [results[0], results.at(-1)];
    const per = b.n - a.n;
    const rows = [...new Set([...a.heap.keys(), ...b.heap.keys()])]
      .map((name) => {
        const x = a.heap.get(name) ?? { count: 0, bytes: 0 };
        const y = b.heap.get(name) ?? { count: 0, bytes: 0 };
        return { name, bytes: (y.bytes - x.bytes) / per, count: (y.count - x.count) / per };
      })
      .sort((p, q) => q.bytes - p.bytes);
    const total = rows.reduce((sum, r) => sum + r.bytes, 0);
    console.log(`\n=== heap growth per added worker (${a.n} → ${b.n}): ${(total / 1024).toFixed(1)} kB`);
    for (const r of rows.slice(0, 25)) console.log(`  ${(r.bytes / 1024).toFixed(2).padStart(8)} kB  ${r.count.toFixed(1).padStart(7)} objects  ${r.name}`);
  }
} finally {
  await runCleanups();
}
