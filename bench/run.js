// `npm run bench`: every scenario against a single `node app.js` (where it makes sense), a raw
// node:cluster primary, PM2 in cluster mode and nsup, 2 workers each, in interleaved rounds
// (A B C D, A B C D, …). Prints one table (medians, min–max over the runs, nsup's ratios computed
// pair by pair, targets checked run by run) and writes it to bench/results/<date>.md, with every
// raw sample in bench/results/<date>.json. Loopback only, every step bounded in time.
//
//   BENCH_ROUNDS=3                 rounds (runs per target and scenario), at least 3 for the record
//   BENCH_ONLY=throughput,reload   only these scenarios (results then go to <date>.<names>.md/json)
//   BENCH_ONLY=soak                the long-run check (500 rolling reloads; `npm run bench:soak`)
//   BENCH_ONLY=scale               2, 8 and 32 workers, raw cluster vs nsup (`npm run bench:scale`)
// Scenarios: throughput reload broken recovery rss status startup ipc sticky logs watch (default: all), soak, scale.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { broken } from './broken.js';
import { ipc } from './ipc.js';
import { ROOT, runCleanups } from './lib.js';
import { logs } from './logs.js';
import { recovery } from './recovery.js';
import { reload } from './reload.js';
import { buildRows, renderTable, targetSummary } from './report.js';
import { rss } from './rss.js';
import { scale } from './scale.js';
import { scaleTables } from './scale-report.js';
import { soak } from './soak.js';
import { status } from './status.js';
import { startup } from './startup.js';
import { sticky } from './sticky.js';
import { throughput } from './throughput.js';
import { watch } from './watch.js';

const DEFAULT = ['throughput', 'reload', 'broken', 'recovery', 'rss', 'status', 'startup', 'ipc', 'sticky', 'logs', 'watch'];
// Opt-in: each takes minutes on its own.
const EXTRA = ['soak', 'scale'];
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()).filter(Boolean) : null;
const selected = only ?? DEFAULT;
const unknown = selected.filter((name) => !DEFAULT.includes(name) && !EXTRA.includes(name));
if (unknown.length) {
  console.error(`bench: unknown scenario(s) ${unknown.join(', ')}; known: ${[...DEFAULT, ...EXTRA].join(', ')}`);
  process.exit(2);
}
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error('bench: BENCH_ROUNDS must be a positive integer');
  process.exit(2);
}

const pm2Version = JSON.parse(readFileSync(join(ROOT, 'node_modules/pm2/package.json'), 'utf8')).version;
const started = new Date();
const meta = {
  date: started.toISOString(),
  machine: `${os.cpus()[0]?.model.trim() ?? '?'} × ${os.availableParallelism()}`,
  node: process.version,
  pm2: pm2Version,
  rounds,
  selected,
};
const log = (line) => console.log(line);
const soakOnly = selected.every((s) => s === 'soak');
const roundsText = soakOnly ? '' : `${rounds} interleaved rounds, `;
console.log(`nsup bench: Node ${meta.node}, PM2 ${meta.pm2}, ${meta.machine}, ${roundsText}scenarios: ${selected.join(', ')}`);
if (rounds < 3 && !soakOnly) console.log('(fewer than 3 rounds: fine for a try, not for the record)');

const RUN = {
  throughput: () => throughput({ rounds, log }),
  reload: () => reload({ rounds, log }),
  broken: () => broken({ rounds, log }),
  recovery: () => recovery({ rounds, log }),
  rss: () => rss({ rounds, log }),
  status: () => status({ rounds, log }),
  startup: () => startup({ rounds, log }),
  sticky: () => sticky({ rounds, log }),
  logs: () => logs({ rounds, log }),
  watch: () => watch({ rounds, log }),
  ipc: async () => {
    const seconds = 2;
    const result = await ipc({ rounds, seconds });
    log(`  ipc: nsup / raw send ${result.ratios.sendVsRawSend}, request p50 ${result.ratios.requestP50VsRaw}, p99 ${result.ratios.requestP99VsRaw}`);
    return { ...result, params: { rounds, seconds } };
  },
  soak: () => soak({ log }),
  scale: () => scale({ rounds, log }),
};

const scenarios = {};
const timings = {};
const errors = {};
try {
  for (const name of selected) {
    const t0 = Date.now();
    console.log(`\n[${name}]`);
    try {
      scenarios[name] = await RUN[name]();
    } catch (error) {
      // One scenario failing (a timeout, a target that never came up) must not lose the others.
      errors[name] = error.stack ?? String(error);
      console.log(`  FAILED: ${error.message}`);
      await runCleanups();
    }
    timings[name] = Math.round((Date.now() - t0) / 1000);
    console.log(`  (${timings[name]} s)`);
  }
} finally {
  await runCleanups();
}

const wallSeconds = Math.round((Date.now() - started.getTime()) / 1000);
const workersText = selected.every((s) => s === 'scale') ? '2, 8 and 32 workers' : selected.includes('scale') ? '2 workers (scale: 2, 8, 32)' : '2 workers';
const header =
  `${meta.date.slice(0, 10)} · ${meta.machine} · Node ${meta.node} · PM2 ${meta.pm2} · ${roundsText.replace(', ', ' · ')}` +
  `${workersText} · loopback · wall time ${Math.floor(wallSeconds / 60)} min ${wallSeconds % 60} s`;
const md = [`# nsup bench results`, '', header, ''];

const rows = buildRows(scenarios);
if (rows.length) {
  const table = renderTable(rows);
  const targets = targetSummary(rows);
  md.push(
    'Cells: median (min–max) over the runs, or every run\'s value in order. Ratios: nsup / other, computed per round, then the median (min–max) of those ratios. Targets are checked run by run; **bold** marks a run that misses.',
    '',
    table,
    '',
    'Targets:',
    '',
    ...targets.map((line) => `- ${line}`),
    '',
  );
  console.log(`\n${header}\n\n${table}\n\nTargets:\n${targets.join('\n')}`);
}

if (Object.keys(errors).length) {
  const lines = Object.entries(errors).map(([name, stack]) => `- ${name}: FAILED, ${stack.split('\n')[0]}`);
  md.push('Scenarios that failed:', '', ...lines, '');
  console.log(`\nScenarios that failed:\n${lines.join('\n')}`);
}

if (scenarios.soak) {
  const f = (kb) => (kb === null ? '?' : `${(kb / 1024).toFixed(1)} MB`);
  const lines = [];
  const table = [];
  for (const [name, s] of Object.entries(scenarios.soak)) {
    const growth = s.growthKb === null ? '?' : `${(s.growthKb / 1024).toFixed(1)} MB`;
    const verdict = name === 'nsup' ? ` → ${s.targetMet ? '✓' : '✗'} target < 5 MB` : ' (reference)';
    lines.push(
      `${name}: ${s.reloads} rolling reloads in ${Math.round(s.wallMs / 1000)} s, reload ${s.reloadMs.median} ms median (${s.reloadMs.min}–${s.reloadMs.max}); ` +
        `primary RSS ${f(s.rssStartKb)} at start, ${f(s.rssAfterWarmKb)} after ${s.warm} reloads, ${f(s.rssEndKb)} after ${s.reloads}: growth ${growth}${verdict}`,
    );
    // The table shows every 100th checkpoint (and the warm one); the JSON has every 25th.
    const shown = s.trend.filter((t) => t.reloads === 0 || t.reloads === s.warm || t.reloads % 100 === 0 || t.reloads === s.reloads);
    table.push({ header: shown.map((t) => t.reloads), row: `| ${name} | ${shown.map((t) => (t.rssKb / 1024).toFixed(1)).join(' | ')} |` });
  }
  const header = table[0].header;
  md.push(
    '## Soak: rolling reloads, primary RSS',
    '',
    ...lines.map((line) => `- ${line}`),
    '',
    `| primary RSS (MB) after N reloads | ${header.join(' | ')} |`,
    `| --- | ${header.map(() => '---').join(' | ')} |`,
    ...table.map((t) => t.row),
    '',
  );
  console.log(`\nSoak:\n${lines.join('\n')}`);
}

if (scenarios.scale) {
  const { rounds: r, calls, idleMs, settleMs, cpuSource } = scenarios.scale.params;
  const lines = scaleTables(scenarios.scale);
  md.push(
    '## Scale: 2, 8 and 32 workers',
    '',
    `Raw cluster, nsup, and nsup with its metrics endpoint on, started afresh for each size and round (${r} interleaved round${r === 1 ? '' : 's'}). ` +
      `Cells: median (min–max) over the rounds. Idle: ${idleMs / 1000} s, ${settleMs / 1000} s after every worker listened. ` +
      `\`status\` and /metrics: ${calls} calls each; the primary's CPU per call is net of its idle rate. CPU time from /proc/<pid>/task/*/${cpuSource === 'schedstat' ? 'schedstat' : 'stat'}.`,
    '',
    ...lines,
    '',
  );
  console.log(`\nScale:\n${lines.join('\n')}`);
}

const suffix = only ? `.${selected.join('-')}` : '';
const stamp = meta.date.slice(0, 10) + suffix;
const dir = join(ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `${stamp}.md`), md.join('\n'));
writeFileSync(
  join(dir, `${stamp}.json`),
  JSON.stringify({ ...meta, wallSeconds, timings, errors, rows: rows.map(({ values, cells, ratios, checks, id, scenario, metric }) => ({ id, scenario, metric, values, cells, ratios, checks })), scenarios }, null, 1) + '\n',
);
console.log(`\nsaved bench/results/${stamp}.md and bench/results/${stamp}.json`);
process.exit(Object.keys(errors).length ? 1 : 0);
