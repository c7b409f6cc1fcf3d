// Turns the scenarios' per-run samples into one table: per target the median and min–max over
// the runs, nsup's ratios against raw cluster and PM2 computed pair by pair (per round, then the
// median of those ratios), and the targets checked run by run (or, where a target says so, on the
// median of the per-round ratios: throughput and CPU, whose single runs move with the machine).
import { WORKERS, median, summary } from './lib.js';

export const COLUMNS = [
  ['single', 'single node'],
  ['raw cluster', 'raw cluster'],
  ['pm2', 'PM2'],
  ['nsup', 'nsup'],
];

const int = (v) => String(Math.round(v));
// autocannon's latency histogram has 1 ms resolution: 0 means under a millisecond.
const lat = (v) => (v < 1 ? '<1' : String(Math.round(v)));
const one = (v) => (Math.round(v * 10) / 10).toFixed(1);
const mb = (kb) => (kb / 1024).toFixed(1);
const r2 = (v) => v.toFixed(2);

/** The rows of the table, from whatever scenarios ran (a missing scenario gives no rows). */
export function buildRows(s) {
  const rows = [];
  const pick = (byName, fn) => Object.fromEntries(Object.entries(byName).map(([name, runs]) => [name, runs.map(fn)]));
  if (s.throughput) {
    const { seconds, connections } = s.throughput.params;
    for (const [mode, title] of [['keep-alive', 'keep-alive'], ['close', '`Connection: close`']]) {
      const by = s.throughput.samples[mode];
      const scenario = `throughput, ${title} (${connections} conn., ${seconds} s)`;
      rows.push({
        id: `throughput.${mode}.rps`, scenario, metric: 'req/s', values: pick(by, (r) => r.rps), fmt: int, ratio: true,
        targets: [
          { label: '≥ 1.0 × raw, median of rounds', vs: 'raw cluster', median: true, test: (ratio) => ratio >= 1.0 },
          { label: '≥ PM2', vs: 'pm2', test: (n, o) => n >= o },
        ],
      });
      rows.push({ id: `throughput.${mode}.p50`, scenario, metric: 'latency p50, ms', values: pick(by, (r) => r.p50), fmt: lat, ratio: true });
      rows.push({ id: `throughput.${mode}.p99`, scenario, metric: 'latency p99, ms', values: pick(by, (r) => r.p99), fmt: lat, ratio: true });
      // Older result files have no CPU samples: no row then.
      if (Object.values(by).some((runs) => runs.some((r) => r.workerCpuUs !== undefined))) {
        rows.push({
          id: `throughput.${mode}.workerCpu`, scenario, metric: 'worker CPU per request (user+sys / requests), µs', values: pick(by, (r) => r.workerCpuUs), fmt: one, ratio: true,
          targets: [{ label: '≤ 1.02 × raw, median of rounds', vs: 'raw cluster', median: true, test: (ratio) => ratio <= 1.02 }],
        });
      }
    }
  }
  if (s.reload) {
    const { reloads, keepAliveConnections, closeConnections } = s.reload.params;
    const by = s.reload.samples;
    const scenario = `rolling reload under ${keepAliveConnections} keep-alive + ${closeConnections} \`Connection: close\` connections at once (${reloads} reloads per run)`;
    for (const [mode, title] of [['keepAlive', 'keep-alive'], ['close', '`Connection: close`']]) {
      rows.push({
        id: `reload.${mode}.failed`, scenario, metric: `failed requests per run, ${title} load`, values: pick(by, (r) => r[mode].failed), fmt: int, list: true,
        targets: [{ label: '0 per reload', test: (n) => n === 0 }],
      });
    }
    rows.push({ id: 'reload.ms', scenario, metric: 'reload time, ms (median per run)', values: pick(by, (r) => r.reloadMs), fmt: int, ratio: true });
    rows.push({
      id: 'reload.stuck', scenario, metric: 'reloads stuck for 15 s (old workers then SIGKILLed)', values: pick(by, (r) => r.stuck ?? 0), fmt: int, list: true,
      targets: [{ label: 'none', test: (n) => n === 0 }],
    });
  }
  if (s.broken) {
    const by = s.broken.samples;
    const scenario = `broken deploy: reload to code that throws at startup (${s.broken.params.connections} conn. keep-alive, until settled + ${s.broken.params.afterMs / 1000} s)`;
    rows.push({
      id: 'broken.failed', scenario, metric: 'failed requests per run', values: pick(by, (r) => r.failed), fmt: int, list: true,
      targets: [{ label: '0 per broken deploy', test: (n) => n === 0 }],
    });
    rows.push({
      id: 'broken.serving', scenario, metric: 'answers 200 afterwards', values: pick(by, (r) => r.serving), fmt: (v) => (v ? 'yes' : 'no'), list: true,
      targets: [{ label: 'still serving', test: (n) => n === true }],
    });
    rows.push({ id: 'broken.oldAlive', scenario, metric: 'old workers still running', values: pick(by, (r) => r.oldWorkersAlive), fmt: (v) => `${v}/2`, list: true });
    rows.push({ id: 'broken.starts', scenario, metric: 'start attempts of the broken code', values: pick(by, (r) => r.brokenStarts), fmt: int, list: true });
  }
  if (s.recovery) {
    rows.push({
      id: 'recovery.ms', scenario: `SIGKILLed worker → replacement listening (${s.recovery.params.kills} kills per run)`, metric: 'ms (median per run)',
      values: pick(s.recovery.samples, (r) => r.median), fmt: int, ratio: true,
    });
  }
  if (s.rss) {
    const scenario = 'memory with 2 idle workers (VmRSS)';
    rows.push({
      id: 'rss.primary', scenario, metric: 'primary / PM2 daemon / single process, MB', values: pick(s.rss.samples, (r) => r.primaryKb), fmt: mb, ratio: true,
      targets: [{ label: '≤ raw + 8 MB', vs: 'raw cluster', test: (n, o) => n <= o + 8 * 1024, show: (n, o) => `${n >= o ? '+' : '−'}${mb(Math.abs(n - o))} MB` }],
    });
    rows.push({ id: 'rss.anon', scenario, metric: 'same, own memory only (RssAnon), MB', values: pick(s.rss.samples, (r) => r.primaryAnonKb), fmt: mb, ratio: true });
    rows.push({ id: 'rss.total', scenario, metric: 'primary + workers, MB', values: pick(s.rss.samples, (r) => r.totalKb), fmt: mb, ratio: true });
    // A single process has no workers: no value.
    const perWorker = (name, r) => (name === 'single' ? NaN : r.workersKb / (s.rss.params.workers ?? WORKERS));
    rows.push({
      id: 'rss.worker', scenario, metric: 'per worker, MB', values: Object.fromEntries(Object.entries(s.rss.samples).map(([name, runs]) => [name, runs.map((r) => perWorker(name, r))])), fmt: mb, ratio: true,
      targets: [{ label: '≤ raw + 1 MB', vs: 'raw cluster', test: (n, o) => n <= o + 1024, show: (n, o) => `${n >= o ? '+' : '−'}${mb(Math.abs(n - o))} MB` }],
    });
  }
  if (s.status) {
    rows.push({
      id: 'status.ms', scenario: `status CLI wall time (\`nsup status --json\` vs \`pm2 jlist\`, ${s.status.params.calls} calls per run)`, metric: 'ms (median per run)',
      values: pick(s.status.samples, (r) => r.median), fmt: one, ratio: true,
      targets: [{ label: '≤ ⅓ pm2 jlist', vs: 'pm2', test: (n, o) => n <= o / 3 }],
    });
  }
  if (s.startup) {
    const scenario = 'start-to-serving (PM2: fresh PM2_HOME, daemon start-up included)';
    rows.push({ id: 'startup.firstOk', scenario, metric: 'spawn → first HTTP 200, ms', values: pick(s.startup.samples, (r) => r.firstOkMs), fmt: int, ratio: true });
    rows.push({
      id: 'startup.allListening', scenario, metric: 'spawn → every worker listening, ms', values: pick(s.startup.samples, (r) => r.allListeningMs), fmt: int, ratio: true,
      targets: [{ label: '≤ raw + 50 ms', vs: 'raw cluster', test: (n, o) => n <= o + 50, show: (n, o) => `${n >= o ? '+' : '−'}${int(Math.abs(n - o))} ms` }],
    });
    // Detached: `nsup start -d` (its daemon's workers) against the same raw cluster runs and `pm2 start`.
    if (s.startup.samples['nsup -d']) {
      const detached = { 'raw cluster': s.startup.samples['raw cluster'], pm2: s.startup.samples.pm2, nsup: s.startup.samples['nsup -d'] };
      rows.push({
        id: 'startup.daemon', scenario, metric: '`start -d` (PM2: `pm2 start`): spawn → every worker listening, ms', values: pick(detached, (r) => r.allListeningMs), fmt: int, ratio: true,
        targets: [{ label: '≤ raw + 100 ms', vs: 'raw cluster', test: (n, o) => n <= o + 100, show: (n, o) => `${n >= o ? '+' : '−'}${int(Math.abs(n - o))} ms` }],
      });
      const returned = { pm2: s.startup.samples.pm2, nsup: s.startup.samples['nsup -d'] };
      rows.push({ id: 'startup.daemonReturned', scenario, metric: '`start -d` / `pm2 start`: spawn → command returned, ms', values: pick(returned, (r) => r.returnedMs), fmt: int, ratio: true });
    }
  }
  if (s.sticky) {
    const { connections, seconds, sources } = s.sticky.params;
    const scenario = `sticky sessions vs round-robin, \`Connection: close\` (${connections} conn. from ${sources} source addresses, ${seconds} s; nsup column: sticky)`;
    const by = s.sticky.samples;
    const sticky = { 'raw cluster': by['raw cluster'], nsup: by['nsup sticky'] };
    // nsup with sticky against nsup without, round by round.
    const vsRoundRobin = (fn) => ({ nsup: by['nsup sticky'].map((r, i) => fn(r) / fn(by.nsup[i])) });
    rows.push({ id: 'sticky.rps', scenario, metric: 'req/s', values: pick(sticky, (r) => r.rps), fmt: int, ratio: true });
    rows.push({
      id: 'sticky.rpsVsRr', scenario, metric: 'req/s, sticky / nsup round-robin', values: vsRoundRobin((r) => r.rps), fmt: r2,
      targets: [{ label: '≥ 0.9 × round-robin', test: (n) => n >= 0.9 }],
    });
    rows.push({ id: 'sticky.p99', scenario, metric: 'latency p99, ms', values: pick(sticky, (r) => r.p99), fmt: lat, ratio: true });
    rows.push({ id: 'sticky.p99VsRr', scenario, metric: 'p99, sticky / nsup round-robin', values: vsRoundRobin((r) => r.p99), fmt: r2 });
    rows.push({ id: 'sticky.cpu', scenario, metric: 'primary CPU per new connection, µs', values: pick(sticky, (r) => r.primaryUsPerConn), fmt: one, ratio: true });
    rows.push({ id: 'sticky.cpuVsRr', scenario, metric: 'primary CPU per connection, sticky / nsup round-robin', values: vsRoundRobin((r) => r.primaryUsPerConn), fmt: r2 });
  }
  if (s.logs) {
    const { lines, lineBytes, mib, workers, nsupMaxSize } = s.logs.params;
    const by = s.logs.samples;
    const us = (v) => v.toFixed(2);
    // The nsup column is the daemon in one block of rows and the foreground supervisor in the next.
    const blocks = [
      ['daemon', { 'raw cluster': by['raw cluster'], pm2: by.pm2, nsup: by.nsup }, `nsup column: \`start -d\`, its <app>.log${nsupMaxSize ? `, --log-max-size ${nsupMaxSize}` : ''}`],
      ['foreground', { nsup: by['nsup foreground'] }, 'nsup column: foreground `nsup start`, stdout > file'],
    ];
    for (const [key, all, where] of blocks) {
      const values = Object.fromEntries(Object.entries(all).filter(([, runs]) => runs));
      if (!values.nsup) continue;
      const scenario = `worker output: ${workers} workers × ${lines} lines of ${lineBytes} bytes to stdout, waiting for 'drain' (${where})`;
      rows.push({ id: `logs.${key}.lps`, scenario, metric: 'lines/s, go → every line in the files', values: pick(values, (r) => r.linesPerSec), fmt: int, ratio: true });
      rows.push({ id: `logs.${key}.cpu`, scenario, metric: 'supervisor CPU per line, µs', values: pick(values, (r) => r.supervisorUsPerLine), fmt: us, ratio: true });
      rows.push({ id: `logs.${key}.workersCpu`, scenario, metric: "workers' CPU per line, µs", values: pick(values, (r) => r.workersUsPerLine), fmt: us, ratio: true });
      rows.push({
        id: `logs.${key}.intact`, scenario, metric: 'lines in the files, whole', list: true,
        values: pick(values, (r) => ({ intact: r.intact, damaged: r.damaged, expected: r.expected })),
        fmt: (v) => (v.intact === v.expected && v.damaged === 0 ? 'all' : `${v.intact}${v.damaged ? ` + ${v.damaged} cut` : ''}`),
        targets: [{ label: 'every line, whole', test: (v) => v.intact === v.expected && v.damaged === 0 }],
      });
      const long = `a line that never ends: one worker writes ${mib} MiB of 'x' in 1 MiB chunks, then '\\n' (${where})`;
      rows.push({
        id: `logs.${key}.rss`, scenario: long, metric: 'supervisor peak RSS growth, MB', values: pick(values, (r) => r.rssGrowthKb), fmt: mb,
        targets: [{ label: '< 10 MB', test: (kb) => kb < 10 * 1024 }],
      });
      rows.push({ id: `logs.${key}.longMs`, scenario: long, metric: 'go → whole line in the files, ms', values: pick(values, (r) => r.longMs), fmt: int, ratio: true });
      rows.push({ id: `logs.${key}.complete`, scenario: long, metric: 'every byte in the files', values: pick(values, (r) => r.longComplete), fmt: (v) => (v ? 'yes' : 'no'), list: true });
    }
  }
  if (s.watch) {
    const scenario = `watching 2 idle workers (${s.watch.params.seconds} s per measurement; monit in a pseudo-terminal after 3 s)`;
    const share = (v) => `${(v * 100).toFixed(2)}%`;
    rows.push({
      id: 'watch.monit', scenario, metric: '`nsup monit` / `pm2 monit`: its own CPU, share of a core', values: { pm2: s.watch.samples.pm2Monit, nsup: s.watch.samples.monit }, fmt: share, ratio: true,
      targets: [{ label: '< 2% of a core', test: (n) => n < 0.02 }],
    });
    rows.push({ id: 'watch.dashboard', scenario, metric: 'primary CPU, dashboard on, no page open', values: { nsup: s.watch.samples.dashboardIdle }, fmt: share });
    rows.push({ id: 'watch.dashboardPage', scenario, metric: 'primary CPU, dashboard on, one page connected', values: { nsup: s.watch.samples.dashboardOnePage }, fmt: share });
  }
  if (s.ipc) {
    const by = { 'raw cluster': s.ipc.samples.raw, nsup: s.ipc.samples.nsup };
    const scenario = `IPC worker → primary → worker (${s.ipc.params.seconds} s per measurement)`;
    rows.push({ id: 'ipc.send', scenario, metric: 'fire-and-forget, msgs/s', values: pick(by, (r) => r.sendPerSec), fmt: int, ratio: true });
    rows.push({ id: 'ipc.p50', scenario, metric: 'request round trip p50, µs', values: pick(by, (r) => r.p50Us), fmt: int, ratio: true });
    rows.push({ id: 'ipc.p99', scenario, metric: 'request round trip p99, µs', values: pick(by, (r) => r.p99Us), fmt: int, ratio: true });
  }
  return rows.map(evaluate);
}

/** Medians, ranges, pair-by-pair ratios and per-run target checks of one row. */
function evaluate(row) {
  const out = { ...row, cells: {}, ratios: {}, checks: [] };
  for (const [name] of COLUMNS) {
    const runs = row.values[name];
    if (!runs) continue;
    if (row.list) out.cells[name] = runs.map(row.fmt).join(', ');
    else {
      const sum = summary(runs);
      out.cells[name] = sum ? `${row.fmt(sum.median)} (${row.fmt(sum.min)}–${row.fmt(sum.max)})` : '—';
    }
  }
  const perRound = (vs) => (row.values.nsup ?? []).map((n, i) => [n, row.values[vs]?.[i]]);
  if (row.ratio) {
    for (const vs of ['raw cluster', 'pm2']) {
      const ratios = perRound(vs).filter(([n, o]) => Number.isFinite(n) && Number.isFinite(o) && o !== 0).map(([n, o]) => n / o);
      if (ratios.length) out.ratios[vs] = { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), perRound: ratios };
    }
  }
  for (const target of row.targets ?? []) {
    const runs = target.vs ? perRound(target.vs) : (row.values.nsup ?? []).map((n) => [n]);
    if (target.median) {
      // Met when the median of the per-round ratios nsup / vs passes (a run that misses is bold).
      const ratios = runs.filter(([n, o]) => Number.isFinite(n) && Number.isFinite(o) && o !== 0).map(([n, o]) => n / o);
      const results = ratios.map((ratio) => ({ ok: target.test(ratio), shown: r2(ratio) }));
      const mid = median(ratios);
      out.checks.push({ label: target.label, ok: mid !== null && target.test(mid), median: mid === null ? null : r2(mid), perRun: results });
      continue;
    }
    const shown = target.show ?? ((n, o) => (target.vs ? r2(n / o) : row.fmt(n)));
    const results = runs.map(([n, o]) => ({ ok: target.test(n, o), shown: shown(n, o) }));
    out.checks.push({ label: target.label, ok: results.length > 0 && results.every((r) => r.ok), perRun: results });
  }
  delete out.fmt;
  delete out.targets;
  return out;
}

const ratioCell = (r) => (r ? `${r2(r.median)} (${r2(r.min)}–${r2(r.max)})` : '—');
const checkCell = (checks) =>
  checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.label}: ${c.median !== undefined ? `${c.median ?? '—'} (` : ''}${c.perRun.map((r) => (r.ok ? r.shown : `**${r.shown}**`)).join(', ')}${c.median !== undefined ? ')' : ''}`).join('<br>');

/** The markdown table (also printed as is on stdout). */
export function renderTable(rows) {
  const lines = [
    `| scenario | metric | ${COLUMNS.map(([, label]) => label).join(' | ')} | nsup / raw | nsup / PM2 | target (nsup, run by run) |`,
    `| --- | --- | ${COLUMNS.map(() => '---').join(' | ')} | --- | --- | --- |`,
  ];
  let last = null;
  for (const row of rows) {
    const scenario = row.scenario === last ? '〃' : row.scenario;
    last = row.scenario;
    const cells = COLUMNS.map(([name]) => (name === 'nsup' && row.cells[name] ? `**${row.cells[name]}**` : (row.cells[name] ?? '—')));
    lines.push(`| ${scenario} | ${row.metric} | ${cells.join(' | ')} | ${ratioCell(row.ratios['raw cluster'])} | ${ratioCell(row.ratios.pm2)} | ${checkCell(row.checks)} |`);
  }
  return lines.join('\n');
}

/** One line per target: met or missed, with the numbers. */
export function targetSummary(rows) {
  const out = [];
  for (const row of rows) {
    for (const check of row.checks) {
      const median = check.median !== undefined ? `median ${check.median ?? '—'}; ` : '';
      out.push(`${check.ok ? '✓ met   ' : '✗ MISSED'} ${row.scenario} — ${row.metric}: ${check.label} (${median}per run: ${check.perRun.map((r) => r.shown).join(', ')})`);
    }
  }
  return out;
}
