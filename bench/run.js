// `npm run bench`: runs the scenarios side by side against raw node:cluster and PM2 and prints
// (and saves to bench/results/) medians, ranges and ratios. Loopback only, every step bounded.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT } from './lib.js';
import { recovery } from './recovery.js';

const pm2Version = JSON.parse((await import('node:fs')).readFileSync(join(ROOT, 'node_modules/pm2/package.json'), 'utf8')).version;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const results = { date: new Date().toISOString(), machine: `${os.cpus()[0]?.model ?? '?'} × ${os.availableParallelism()}`, node: process.version, pm2: pm2Version, scenarios: {} };

console.log(`nsup bench: Node ${process.version}, PM2 ${pm2Version}, ${results.machine}, ${rounds} interleaved rounds\n`);
const rec = await recovery({ rounds });
results.scenarios.recovery = rec;
const fmt = (r) => `${r.median} ms (${r.min}–${r.max}, n=${r.n})`;
console.log('SIGKILLed worker → replacement listening (median, min–max):');
for (const [name, r] of Object.entries(rec)) console.log(`  ${name.padEnd(12)} ${fmt(r)}`);
console.log(`  ratio nsup / raw cluster: ${(rec.nsup.median / rec['raw cluster'].median).toFixed(2)}`);
console.log(`  ratio nsup / PM2:         ${(rec.nsup.median / rec.pm2.median).toFixed(2)}`);

mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const stamp = results.date.slice(0, 10);
writeFileSync(join(ROOT, `bench/results/${stamp}.json`), JSON.stringify(results, null, 2) + '\n');
console.log(`\nsaved bench/results/${stamp}.json`);
