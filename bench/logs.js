// Scenario: worker output through the supervisor, 2 workers of bench/apps/log-writer.js under
//   raw cluster      bench/apps/raw-cluster.js, its stdout a file the workers inherit: lines go
//                    straight to the file and the primary does nothing (the floor);
//   PM2              `pm2 start -i 2`, its per-instance files $PM2_HOME/logs/bench-out-<id>.log;
//   nsup             `nsup start -d`, its $NSUP_HOME/bench.log (and rotated bench.log.N), with
//                    `--log-max-size 1GB` so that nothing rotates while the bench reads it;
//   nsup foreground  `nsup start` with its stdout redirected to a file.
// One start per target and round, two jobs, the memory one first (on a fresh supervisor):
//   1. a line that never ends: one worker writes 100 MiB of 'x' in 1 MiB chunks (waiting for
//      'drain'), then '\n'. The supervisor's peak VmRSS growth over its VmRSS before (sampled
//      every 20 ms), the time until the worker's end line is in the file, every 'x' there or not;
//   2. line throughput: each worker writes 200,000 lines of 100 bytes as fast as write()'s
//      backpressure lets it. Lines/s from the go to the last end line in the file, the CPU time
//      (utime + stime, /proc/<pid>/stat) of the supervisor and of the workers per line, and the
//      intact lines counted in the files.
// A supervisor that drops lines may drop the end lines too: the workers also drop a done file
// each, and the job ends once the files stop growing (times then run to the last byte).
import { execa } from 'execa';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NSUP, RAW, ROOT, TARGETS, WORKERS, alive, freePort, markerPids, median, onCleanup, rssKb, serverCmd, sleep, stopTarget, waitFor } from './lib.js';
import { LINE_BYTES, countLines, countX, endScanner } from './log-scan.js';

export const NAMES = ['raw cluster', 'pm2', 'nsup', 'nsup foreground'];
const APP = join(ROOT, 'bench/apps/log-writer.js');
const MIB = 1024 * 1024;
// Files that stopped growing this long after every writer finished hold all they will get.
const QUIET_MS = 2000;

/** Run the scenario: `rounds` interleaved rounds over `names`; one entry per target and round. */
export async function logs({ rounds = 3, lines = 200_000, mib = 100, names = NAMES, log = () => {} } = {}) {
  // samples[name] = one entry per round (see longLine and throughput for the fields)
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  // `--log-max-size 1GB` where the build has the flag: no file rotates while the bench reads it.
  const help = await execa(process.execPath, [NSUP, 'start', '--help'], { reject: false, timeout: 30_000 });
  const maxSize = help.stdout.includes('--log-max-size') ? '1GB' : null;
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      await withLogTarget(name, { maxSize }, async (target) => {
        const entry = { ...(await longLine(target, mib)), ...(await throughput(target, lines)) };
        samples[name].push(entry);
        const us = (v) => v.toFixed(2);
        log(
          `  logs round ${round + 1} ${name.padEnd(15)} ${entry.linesPerSec} lines/s, CPU per line: supervisor ${us(entry.supervisorUsPerLine)} µs, ` +
            `workers ${us(entry.workersUsPerLine)} µs; ${entry.intact}/${entry.expected} lines intact${entry.damaged ? `, ${entry.damaged} damaged` : ''}; ` +
            `${mib} MiB line: +${(entry.rssGrowthKb / 1024).toFixed(1)} MB peak RSS, ${entry.longEnded ? 'its end line' : 'the last byte (no end line)'} ` +
            `in the file after ${entry.longMs} ms, ${entry.longComplete ? 'complete' : `${entry.xBytes} of ${mib * MIB} bytes of it there`}` +
            `${entry.linesEnded ? '' : '; lines: an end line never came, lines/s is to the last byte written'}`,
        );
      });
    }
  }
  return { samples, params: { rounds, lines, lineBytes: LINE_BYTES, mib, workers: WORKERS, nsupMaxSize: maxSize } };
}

// ---------------------------------------------------------------------------------------------
// The targets. Each returns { pid (a value or a getter), files() (where the lines end up), stop(),
// command? (a start command to wait for) }.

const START = {
  'raw cluster': ({ base, dir, port }) => {
    const out = join(base, 'stdout.log');
    const child = spawnToFile([RAW], out, { PORT: String(port), BENCH_DIR: dir, WORKERS: String(WORKERS), APP_SCRIPT: APP });
    return { pid: child.pid, files: () => [out], stop: () => stopChild(child) };
  },
  pm2: ({ base, dir, port }) => {
    const running = TARGETS.pm2.start({ port, dir, script: APP, workers: WORKERS, base });
    const logs = join(base, 'pm2-home', 'logs');
    return {
      command: running.command,
      get pid() {
        return running.pid;
      },
      files: () => listFiles(logs, (name) => name.startsWith('bench-out')),
      stop: () => running.stop(),
    };
  },
  nsup: ({ base, dir, port, maxSize }) => {
    const home = join(base, 'nsup-home');
    const env = { ...process.env, NSUP_HOME: home };
    const args = [NSUP, 'start', APP, '-d', '-n', 'bench', '-i', String(WORKERS), '--env', `PORT=${port}`, '--env', `BENCH_DIR=${dir}`];
    if (maxSize) args.push('--log-max-size', maxSize);
    const daemonPid = () => Number(listFiles(home, (name) => /^\d+\.sock$/.test(name)).map((p) => /(\d+)\.sock$/.exec(p)[1])[0]) || null;
    return {
      command: execa(...serverCmd(process.execPath, args), { env, stdio: 'ignore', reject: false, timeout: 30_000 }),
      get pid() {
        return daemonPid();
      },
      // bench.log and its rotated copies bench.log.1, .2…
      files: () => listFiles(home, (name) => /^bench\.log(\.\d+)?$/.test(name)),
      stop: async () => {
        const pid = daemonPid();
        await execa(process.execPath, [NSUP, 'stop', 'all'], { env, stdio: 'ignore', reject: false, timeout: 30_000 });
        if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      },
    };
  },
  'nsup foreground': ({ base, dir, port }) => {
    const out = join(base, 'stdout.log');
    const args = [NSUP, 'start', APP, '-n', 'bench', '-i', String(WORKERS), '--env', `PORT=${port}`, '--env', `BENCH_DIR=${dir}`];
    const child = spawnToFile(args, out, { NSUP_HOME: join(base, 'nsup-home') });
    return { pid: child.pid, files: () => [out], stop: () => stopChild(child) };
  },
};

/** Start `name` in a new temp folder, wait until both workers listen, run `fn`, stop it and remove the folder. */
async function withLogTarget(name, { maxSize }, fn) {
  const base = mkdtempSync(join(tmpdir(), 'nsup-bench-logs-'));
  const dir = join(base, 'markers');
  mkdirSync(dir);
  const target = START[name]({ base, dir, port: await freePort(), maxSize });
  const stop = () => stopTarget(target, dir, base);
  const forget = onCleanup(stop);
  try {
    await target.command;
    await waitFor(() => markerPids(dir).filter(alive).length >= WORKERS, `${name}: ${WORKERS} workers listening`, 30_000, 5);
    const ctx = { ...target, name, dir, jobs: 0 };
    if (!ctx.pid || !alive(ctx.pid)) throw new Error(`bench: ${name} is up but its supervisor's pid is unknown or gone`);
    return await fn(ctx);
  } finally {
    forget();
    await stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The two jobs

/** Job 1: one worker writes `mib` MiB without a newline. */
async function longLine(target, mib) {
  const pid = target.pid;
  const before = [];
  for (let i = 0; i < 5; i++) {
    before.push(rssKb(pid));
    await sleep(20);
  }
  const rssBeforeKb = median(before);
  let peakKb = rssBeforeKb;
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, rssKb(pid) ?? 0)), 20);
  try {
    const { ms, ended } = await runJob(target, { mode: 'long', mib }, 1);
    await sleep(100); // what the supervisor holds right after the line is out
    clearInterval(sampler);
    const xBytes = countX(target.files());
    return { rssBeforeKb, rssPeakKb: peakKb, rssGrowthKb: peakKb - rssBeforeKb, longMs: ms, longEnded: ended, xBytes, longComplete: ended && xBytes === mib * MIB };
  } finally {
    clearInterval(sampler);
  }
}

/** Job 2: every worker writes `lines` lines of 100 bytes. */
async function throughput(target, lines) {
  const workers = markerPids(target.dir);
  const supervisorBefore = cpuTicks(target.pid);
  const workersBefore = workers.map(cpuTicks);
  const { ms, ended } = await runJob(target, { mode: 'lines', lines }, WORKERS);
  const supervisorMs = (cpuTicks(target.pid) - supervisorBefore) * 10;
  const workersMs = workers.reduce((sum, pid, i) => sum + (cpuTicks(pid) - workersBefore[i]) * 10, 0);
  const expected = lines * WORKERS;
  const { intact, damaged, damagedLines } = countLines(target.files());
  return {
    // The lines that arrived (all of them, unless the supervisor dropped some) per second.
    linesPerSec: Math.round(intact / (ms / 1000)),
    linesMs: ms,
    linesEnded: ended,
    supervisorUsPerLine: (supervisorMs * 1000) / expected,
    workersUsPerLine: (workersMs * 1000) / expected,
    expected,
    intact,
    damaged,
    ...(damaged ? { damagedLines } : {}),
    allArrived: intact === expected && damaged === 0,
  };
}

/**
 * Drop the next job file for the workers and wait (bounded) until `writers` end lines of it are in
 * the target's files; returns the time from the go to the moment the bench saw the last one. A
 * supervisor that dropped an end line: once every writer said it is done and the files have not
 * grown for QUIET_MS, the time is that of the last growth (`ended: false`).
 */
async function runJob(target, spec, writers) {
  const job = ++target.jobs;
  const ends = endScanner(target.files, job);
  const done = () => readdirSync(target.dir).filter((name) => name.startsWith(`done-${job}-`)).length;
  try {
    // Written aside and renamed: a worker never reads half a job.
    writeFileSync(join(target.dir, 'job.tmp'), JSON.stringify(spec));
    const started = performance.now();
    renameSync(join(target.dir, 'job.tmp'), join(target.dir, `go-${job}`));
    await waitFor(
      () => ends.poll() >= writers || (done() >= writers && performance.now() - ends.lastGrowth() > QUIET_MS),
      `${target.name}: job ${job} (${spec.mode}) in the log files`,
      90_000,
      10,
    );
    const ended = ends.poll() >= writers;
    return { ms: Math.max(0, Math.round((ended ? ends.lastEnd() : ends.lastGrowth()) - started)), ended };
  } finally {
    ends.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

// utime + stime of one process, in clock ticks of 10 ms (0 once it is gone).
function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function listFiles(dir, keep) {
  try {
    return readdirSync(dir).filter(keep).sort().map((name) => join(dir, name));
  } catch {
    return [];
  }
}

// A server-side process whose stdout and stderr are files (its workers inherit them): O_APPEND,
// so two processes writing the same file never overwrite each other.
function spawnToFile(args, out, env) {
  const stdout = openSync(out, 'a');
  const stderr = openSync(`${out}.err`, 'a');
  try {
    return execa(...serverCmd(process.execPath, args), { env, reject: false, stdin: 'ignore', stdout, stderr });
  } finally {
    closeSync(stdout);
    closeSync(stderr);
  }
}

// SIGTERM, SIGKILL after `graceMs` (execa's subprocess has no usable exitCode: race its promise).
async function stopChild(child, graceMs = 10_000) {
  const ended = child.then(() => true, () => true);
  if (!(await Promise.race([ended, sleep(0).then(() => false)]))) child.kill('SIGTERM');
  if (await Promise.race([ended, sleep(graceMs).then(() => false)])) return;
  child.kill('SIGKILL');
  await Promise.race([ended, sleep(2000)]);
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await logs({ rounds: 1, log: console.log }), null, 1));
