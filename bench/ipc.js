// Scenario: messages between two workers through the primary. The same driver runs on
// (a) raw node:cluster, hand-written: worker A → primary → worker B and back, the limit any relay
//     has to live within, and (b) nsup's relay (nsup/worker send/request).
// Per side: request latency (sequential round trips A → P → B → P → A, p50/p99 in µs) and
// fire-and-forget throughput (A → P → B, windowed by B's acks so queues stay bounded).
// `node bench/ipc.js` prints the table; bench/run.js can import ipc().
// This one file plays every role: the bench, the raw primary, a raw worker and an nsup worker.
import cluster from 'node:cluster';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROLE = process.env.NSUP_BENCH_IPC_ROLE;
const MARK = 'NSUP_BENCH_IPC ';
const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WINDOW = 2000; // messages in flight at most (throughput)
const ACK_EVERY = 200;

/** Run `rounds` interleaved rounds (raw, nsup, raw, …) of `seconds` per measurement; medians across rounds. */
export async function ipc({ rounds = 3, seconds = 2 } = {}) {
  const samples = { raw: [], nsup: [] };
  for (let round = 0; round < rounds; round++) {
    samples.raw.push(await runRaw(seconds));
    samples.nsup.push(await runNsup(seconds));
  }
  const summary = (list) => ({
    sendPerSec: median(list.map((r) => r.sendPerSec)),
    sendMin: Math.min(...list.map((r) => r.sendPerSec)),
    sendMax: Math.max(...list.map((r) => r.sendPerSec)),
    roundTripsPerSec: median(list.map((r) => r.roundTripsPerSec)),
    p50Us: median(list.map((r) => r.p50Us)),
    p99Us: median(list.map((r) => r.p99Us)),
    n: list.length,
  });
  // Ratios per round (raw and nsup ran back to back), then the median: less exposed to machine noise.
  const ratio = (pick) => round2(median(samples.nsup.map((r, i) => pick(r, samples.raw[i]))));
  return {
    raw: summary(samples.raw),
    nsup: summary(samples.nsup),
    ratios: {
      // nsup's fire-and-forget rate against raw's: the same pipelined A → P → B path.
      sendVsRawSend: ratio((n, r) => n.sendPerSec / r.sendPerSec),
      // Against the raw two-hop ping-pong, counted in messages (2 per round trip).
      sendVsRawPingPongMsgs: ratio((n, r) => n.sendPerSec / (2 * r.roundTripsPerSec)),
      requestP50VsRaw: ratio((n, r) => n.p50Us / r.p50Us),
      requestP99VsRaw: ratio((n, r) => n.p99Us / r.p99Us),
    },
    samples,
  };
}

// ---------------------------------------------------------------------------------------------
// The two sides, each in its own processes; worker 0 prints one MARK line with its numbers.

function runRaw(seconds) {
  return runUntilResult(process.execPath, [SELF], { NSUP_BENCH_IPC_ROLE: 'raw-primary', BENCH_SECONDS: String(seconds) }, seconds);
}

async function runNsup(seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'nsup-bench-ipc-'));
  const config = join(dir, 'nsup.config.mjs');
  const env = { NSUP_BENCH_IPC_ROLE: 'nsup-worker', BENCH_SECONDS: String(seconds) };
  writeFileSync(config, `export default { apps: [{ name: 'ipcbench', script: ${JSON.stringify(SELF)}, instances: 2, env: ${JSON.stringify(env)} }] };`);
  try {
    // A private runtime dir: never collide with another supervisor's app names or sockets.
    return await runUntilResult(process.execPath, [join(ROOT, 'bin/nsup.js'), 'start', '-c', config], { NSUP_HOME: join(dir, 'home') }, seconds);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Start a process, read stdout until the MARK line, then stop it (SIGTERM, SIGKILL if it lingers). Bounded. */
function runUntilResult(command, args, env, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const bound = setTimeout(() => finish(new Error(`bench ipc: no result within ${4 * seconds + 20}s`)), (4 * seconds + 20) * 1000);
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const at = buffered.indexOf(MARK);
      const end = at >= 0 ? buffered.indexOf('\n', at) : -1;
      if (end >= 0) finish(null, JSON.parse(buffered.slice(at + MARK.length, end)));
      else if (at < 0) buffered = buffered.slice(-MARK.length);
    });
    child.once('exit', () => finish(new Error('bench ipc: the process exited without a result')));
    let done = false;
    function finish(error, result) {
      if (done) return;
      done = true;
      clearTimeout(bound);
      const gone = child.exitCode !== null || child.signalCode !== null;
      const exited = gone ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));
      if (!gone) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      void exited.then(() => {
        clearTimeout(kill);
        if (error) reject(error);
        else resolve(result);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The driver: the same measurements over either transport.

/** Worker 0's work: wait for worker 1, measure request latency, then send throughput. */
async function drive(t, seconds) {
  for (;;) {
    try {
      await t.request(1, 0, 500);
      break;
    } catch {
      await sleep(20); // worker 1 not up yet
    }
  }
  // Latency: one request at a time, A → P → B → P → A.
  const rtts = [];
  let started = performance.now();
  const warm = started + 300;
  const until = warm + seconds * 1000;
  for (let i = 0; ; i++) {
    const t0 = performance.now();
    await t.request(1, i, 5000);
    const t1 = performance.now();
    if (t1 >= until) break;
    if (t1 >= warm) rtts.push((t1 - t0) * 1000);
  }
  // Throughput: fire-and-forget A → P → B, at most WINDOW in flight, B acks every ACK_EVERY.
  let acked = 0;
  let sent = 0;
  let wake = null;
  t.onAck((n) => {
    acked = n;
    wake?.();
  });
  started = performance.now();
  let countFrom = null;
  let ackedAtWarm = 0;
  for (;;) {
    while (sent - acked < WINDOW) t.send(1, ++sent);
    await new Promise((resolve) => (wake = resolve));
    const now = performance.now();
    if (countFrom === null && now >= started + 300) [countFrom, ackedAtWarm] = [now, acked];
    if (countFrom !== null && now >= countFrom + seconds * 1000) {
      rtts.sort((a, b) => a - b);
      return {
        sendPerSec: Math.round(((acked - ackedAtWarm) / (now - countFrom)) * 1000),
        roundTripsPerSec: Math.round(rtts.length / seconds),
        p50Us: Math.round(rtts[Math.floor(rtts.length * 0.5)]),
        p99Us: Math.round(rtts[Math.floor(rtts.length * 0.99)]),
      };
    }
  }
}

/** Worker 1's work: answer requests, count messages and ack them. */
function serve(t) {
  let count = 0;
  t.onTick(() => {
    if (++count % ACK_EVERY === 0) t.ack(0, count);
  });
}

async function rawPrimary() {
  const workers = [];
  for (let id = 0; id < 2; id++) {
    cluster.setupPrimary({ exec: SELF });
    workers.push(cluster.fork({ NSUP_BENCH_IPC_ROLE: 'raw-worker', BENCH_ID: String(id) }));
  }
  // The whole relay: forward by `to`. This is the floor of what any primary-side routing costs.
  for (const worker of workers) worker.on('message', (m) => workers[m.to].send(m));
  process.on('SIGTERM', () => {
    for (const worker of workers) worker.process.kill('SIGKILL');
    process.exit(0);
  });
}

async function rawWorker() {
  const id = Number(process.env.BENCH_ID);
  const waiting = new Map();
  let seq = 0;
  let onAck = () => {};
  let onTick = () => {};
  process.on('message', (m) => {
    if (m.k === 'req') process.send({ to: m.from, k: 'res', seq: m.seq, data: m.data });
    else if (m.k === 'res') waiting.get(m.seq)?.(m.data);
    else if (m.k === 'tick') onTick(m.data);
    else if (m.k === 'ack') onAck(m.data);
  });
  const t = {
    request: (to, data, timeout) =>
      new Promise((resolve, reject) => {
        const s = ++seq;
        const timer = setTimeout(() => (waiting.delete(s), reject(new Error('timeout'))), timeout);
        waiting.set(s, (value) => (clearTimeout(timer), waiting.delete(s), resolve(value)));
        process.send({ to, k: 'req', seq: s, from: id, data });
      }),
    send: (to, data) => process.send({ to, k: 'tick', data: { i: data, text: 'hello' } }),
    ack: (to, n) => process.send({ to, k: 'ack', data: n }),
    onAck: (fn) => (onAck = fn),
    onTick: (fn) => (onTick = fn),
  };
  if (id === 0) console.log(MARK + JSON.stringify(await drive(t, Number(process.env.BENCH_SECONDS))));
  else serve(t);
}

async function nsupWorker() {
  const { on, request, send, workerId } = await import('nsup/worker');
  on('echo', (data) => data);
  const t = {
    request: (to, data, timeout) => request(to, 'echo', data, { timeout }),
    send: (to, data) => send(to, 'tick', { i: data, text: 'hello' }),
    ack: (to, n) => send(to, 'ack', n),
    onAck: (fn) => on('ack', fn),
    onTick: (fn) => on('tick', fn),
  };
  if (workerId === 0) console.log(MARK + JSON.stringify(await drive(t, Number(process.env.BENCH_SECONDS))));
  else serve(t);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function round2(x) {
  return Math.round(x * 100) / 100;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function print(result) {
  const row = (name, r) =>
    `  ${name.padEnd(12)} send ${String(r.sendPerSec).padStart(7)} msgs/s (${r.sendMin}–${r.sendMax})   request ${String(r.roundTripsPerSec).padStart(5)}/s  p50 ${String(r.p50Us).padStart(4)} µs  p99 ${String(r.p99Us).padStart(4)} µs`;
  console.log(`Worker → worker through the primary, 2 workers, median of ${result.raw.n} interleaved rounds (min–max):`);
  console.log(row('raw cluster', result.raw));
  console.log(row('nsup relay', result.nsup));
  const q = result.ratios;
  console.log(`  ratio nsup / raw (median of per-round ratios): send ${q.sendVsRawSend}, request p50 ${q.requestP50VsRaw}, p99 ${q.requestP99VsRaw}`);
  console.log(`  nsup send vs the raw two-hop ping-pong in messages/s (2 per round trip): ${q.sendVsRawPingPongMsgs}`);
}

if (ROLE === 'raw-primary') await rawPrimary();
else if (ROLE === 'raw-worker') await rawWorker();
else if (ROLE === 'nsup-worker') await nsupWorker();
else if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const result = await ipc({ rounds: Number(process.env.BENCH_ROUNDS ?? 3), seconds: Number(process.env.BENCH_SECONDS ?? 2) });
  print(result);
}
