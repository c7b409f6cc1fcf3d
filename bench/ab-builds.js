// A/B of two nsup builds on the same machine, interleaved: worker CPU time per request (user+sys
// of both workers / requests served) and req/s under keep-alive load, 2 workers, bench's plain
// HTTP app. For "did this change cost the workers anything", which the side-by-side bench answers
// only within its noise.
//
//   A=/path/to/old/checkout B=/work/main ROUNDS=3 node bench/ab-builds.js
//   (each checkout built: `npx tsc -p tsconfig.json`; a git worktree of the old commit does)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

const APP = new URL('./apps/marker-server.js', import.meta.url).pathname;
const builds = { A: process.env.A, B: process.env.B ?? new URL('..', import.meta.url).pathname };
const rounds = Number(process.env.ROUNDS ?? 3);
if (!builds.A) throw new Error('set A to the checkout to compare with (and B, default: this one)');

// utime + stime of a process, in clock ticks (10 ms each on Linux).
const ticks = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
// A port the OS says is free right now.
const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
const children = (pid) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

async function run(checkout, port) {
  const nsup = spawn(process.execPath, [join(checkout, 'bin/nsup.js'), 'start', APP, '-i', '2', '--env', `PORT=${port}`], {
    env: { ...process.env, NSUP_HOME: mkdtempSync(join(tmpdir(), 'nsup-ab-')) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('workers not up within 10 s')), 10_000);
      let listening = 0;
      nsup.stdout.on('data', (chunk) => {
        listening += (String(chunk).match(/→ listening/g) ?? []).length;
        if (listening >= 2) resolve(clearTimeout(timer));
      });
    });
    const workers = children(nsup.pid);
    const before = workers.map(ticks);
    const result = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: 8 });
    const used = workers.map(ticks).reduce((sum, t, i) => sum + t - before[i], 0);
    return { rps: Math.round(result.requests.average), cpuUsPerRequest: Number(((used * 10_000) / result.requests.total).toFixed(2)) };
  } finally {
    nsup.kill('SIGTERM');
    await new Promise((resolve) => nsup.once('exit', resolve));
  }
}

const samples = { A: [], B: [] };
for (let round = 0; round < rounds; round++) {
  for (const name of ['A', 'B']) {
    const sample = await run(builds[name], await freePort());
    samples[name].push(sample);
    console.log(`round ${round + 1} ${name}: ${sample.rps} req/s, ${sample.cpuUsPerRequest} µs CPU per request`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpu = (name) => median(samples[name].map((s) => s.cpuUsPerRequest));
const rps = (name) => median(samples[name].map((s) => s.rps));
console.log(`median: A ${rps('A')} req/s ${cpu('A')} µs/req · B ${rps('B')} req/s ${cpu('B')} µs/req · B/A CPU per request ${(cpu('B') / cpu('A')).toFixed(2)}, req/s ${(rps('B') / rps('A')).toFixed(2)}`);
