// `npm run bench`: runs the scenarios side by side against raw node:cluster and PM2 and prints
// (and saves to bench/results/) medians, ranges and ratios. Loopback only, every step bounded.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT } from './lib.js';
import { recovery } from './recovery.js';
import { reload } from './reload.js';
import { status } from './status.js';

const pm2Version = JSON.parse((await import('node:fs')).readFileSync(join(ROOT, 'node_modules/pm2/package.json'), 'utf8')).version;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const results = { date: new Date().toISOString(), machine: `${os.cpus()[0]?.model ?? '?'} × ${os.availableParallelism()}`, node: process.version, pm2: pm2Version, scenarios: {} };

console.log(`nsup bench: Node ${process.version}, PM2 ${pm2Version}, ${results.machine}, ${rounds} interleaved rounds\n`);
const only = process.env.BENCH_ONLY?.split(',');
const rec = only && !only.includes('recovery') ? null : await recovery({ rounds });
results.scenarios.recovery = rec;
if (rec) {
const fmt = (r) => `${r.median} ms (${r.min}–${r.max}, n=${r.n})`;
console.log('SIGKILLed worker → replacement listening (median, min–max):');
for (const [name, r] of Object.entries(rec)) console.log(`  ${name.padEnd(12)} ${fmt(r)}`);
console.log(`  ratio nsup / raw cluster: ${(rec.nsup.median / rec['raw cluster'].median).toFixed(2)}`);
console.log(`  ratio nsup / PM2:         ${(rec.nsup.median / rec.pm2.median).toFixed(2)}`);
}

const rel = only && !only.includes('reload') ? {} : await reload({ rounds });
results.scenarios.reload = rel;
for (const [mode, byName] of Object.entries(rel)) {
  console.log(`\nRolling reload under ${mode} load (20 connections, 5 reloads per round): failed requests per round; reload time median (min–max)`);
  for (const [name, r] of Object.entries(byName)) {
    console.log(`  ${name.padEnd(12)} failed ${JSON.stringify(r.failed)} of ~${r.requestsMedian} requests; reload ${r.reloadMsMedian} ms (${r.reloadMsMin}–${r.reloadMsMax})`);
  }
  console.log(`  ratio reload time nsup / raw cluster: ${(byName.nsup.reloadMsMedian / byName['raw cluster'].reloadMsMedian).toFixed(2)}, nsup / PM2: ${(byName.nsup.reloadMsMedian / byName.pm2.reloadMsMedian).toFixed(2)}`);
}

if (!only || only.includes('status')) {
  const st = await status({ runs: 20 * rounds });
  results.scenarios.status = st;
  console.log(`\nStatus CLI wall time against a daemon with 2 workers (median, min–max, interleaved):`);
  console.log(`  nsup status --json  ${st.nsup.medianMs} ms (${st.nsup.minMs}–${st.nsup.maxMs}, n=${st.nsup.n})`);
  console.log(`  pm2 jlist           ${st.pm2.medianMs} ms (${st.pm2.minMs}–${st.pm2.maxMs}, n=${st.pm2.n})`);
  console.log(`  ratio nsup / PM2: ${st.ratio.toFixed(2)}`);
}

mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const stamp = results.date.slice(0, 10);
writeFileSync(join(ROOT, `bench/results/${stamp}.json`), JSON.stringify(results, null, 2) + '\n');
console.log(`\nsaved bench/results/${stamp}.json`);
