// The scale scenario's two tables (bench/scale.js): every figure per worker count with nsup's
// per-round ratio to raw cluster, then the growth per added worker, so "nsup's overhead grows no
// faster than linearly" can be read off: the overhead's slope from 8 to 32 workers against its
// slope from 2 to 8 (about 1 or less: linear or better; well above 1: superlinear).
import { median } from './lib.js';

const mb = (kb) => (kb / 1024).toFixed(1);
const int = (v) => String(Math.round(v));
const one = (v) => v.toFixed(1);
const two = (v) => v.toFixed(2);

// key: the field of a run; names: the columns it has a figure in; nsup: the target the growth table reads.
const METRICS = [
  { key: 'startMs', label: 'spawn → every worker listening, ms', fmt: int, names: ['raw cluster', 'nsup', 'nsup metrics'] },
  { key: 'startCpuMs', label: 'primary CPU until then, ms', fmt: int, names: ['raw cluster', 'nsup', 'nsup metrics'] },
  { key: 'reloadMs', label: 'rolling reload (SIGHUP → all replaced, old gone), ms', fmt: int, names: ['raw cluster', 'nsup'] },
  { key: 'reloadCpuMs', label: 'primary CPU per reload, ms', fmt: int, names: ['raw cluster', 'nsup'] },
  { key: 'stopMs', label: 'stop (SIGTERM → primary exited), ms', fmt: int, names: ['raw cluster', 'nsup', 'nsup metrics'] },
  { key: 'rssKb', label: 'primary VmRSS idle, MB', fmt: mb, slopeFmt: (kb) => `${kb.toFixed(0)} kB`, names: ['raw cluster', 'nsup', 'nsup metrics'] },
  { key: 'anonKb', label: 'primary RssAnon idle, MB', fmt: mb, slopeFmt: (kb) => `${kb.toFixed(0)} kB`, names: ['raw cluster', 'nsup', 'nsup metrics'] },
  { key: 'idleCpuPct', label: 'primary idle CPU, % of a core', fmt: two, slopeFmt: (v) => v.toFixed(3), names: ['raw cluster', 'nsup', 'nsup metrics'] },
  { key: 'statusMs', label: '`nsup status --json` wall time, ms', fmt: one, names: ['nsup'] },
  { key: 'statusCpuMs', label: 'primary CPU per `status` call, ms', fmt: two, slopeFmt: (v) => v.toFixed(3), names: ['nsup'] },
  { key: 'metricsMs', label: 'GET /metrics wall time, ms', fmt: one, names: ['nsup metrics'] },
  { key: 'metricsCpuMs', label: 'primary CPU per /metrics scrape, ms', fmt: two, slopeFmt: (v) => v.toFixed(3), names: ['nsup metrics'] },
  { key: 'metricsWorkersCpuMs', label: "workers' CPU per /metrics scrape (all workers), ms", fmt: two, slopeFmt: (v) => v.toFixed(3), names: ['nsup metrics'] },
  { key: 'metricsKb', label: '/metrics body, KB', fmt: one, names: ['nsup metrics'] },
];

const COLUMNS = ['raw cluster', 'nsup', 'nsup metrics'];

/** Markdown lines: the per-size table and the growth table. */
export function scaleTables(result) {
  const { samples, params } = result;
  const sizes = params.sizes;
  const values = (n, name, key) => (samples[n]?.[name] ?? []).map((run) => run[key]);
  const cell = (list, fmt) => {
    const finite = list.filter((v) => typeof v === 'number' && Number.isFinite(v));
    if (finite.length === 0) return '—';
    if (finite.length === 1) return fmt(finite[0]);
    return `${fmt(median(finite))} (${fmt(Math.min(...finite))}–${fmt(Math.max(...finite))})`;
  };
  const perRoundRatio = (n, key, nsupName) => {
    const raw = values(n, 'raw cluster', key);
    const ns = values(n, nsupName, key);
    const ratios = ns.map((v, i) => (raw[i] > 0 && typeof v === 'number' ? v / raw[i] : null)).filter((v) => v !== null);
    return cell(ratios, two);
  };

  const lines = [
    '| metric | workers | raw cluster | nsup | nsup, metrics on | nsup / raw (per round) |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of METRICS) {
    sizes.forEach((n, i) => {
      const cols = COLUMNS.map((name) => (m.names.includes(name) ? cell(values(n, name, m.key), m.fmt) : ''));
      const ratio = m.names.includes('raw cluster') ? perRoundRatio(n, m.key, 'nsup') : '';
      lines.push(`| ${i === 0 ? m.label : '〃'} | ${n} | ${cols.join(' | ')} | ${ratio} |`);
    });
  }

  // Growth: from the medians per size.
  const [small, mid, large] = [sizes[0], sizes[1], sizes.at(-1)];
  const med = (n, name, key) => median(values(n, name, key));
  const slope = (a, b, va, vb) => (va === null || vb === null ? null : (vb - va) / (b - a));
  const growth = [
    '',
    `Growth per added worker, from the medians: (value at ${large} − value at ${small}) / ${large - small}; the overhead is nsup − raw cluster (nsup alone where raw has no figure), ` +
      `its slope from ${small} to ${mid} and from ${mid} to ${large} workers, and their ratio (≤ about 1: linear or better).`,
    '',
    `| metric | raw cluster per worker | nsup per worker | overhead per worker, ${small}→${mid} | overhead per worker, ${mid}→${large} | ${mid}→${large} ÷ ${small}→${mid} |`,
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of METRICS) {
    const nsupName = m.names.includes('nsup') ? 'nsup' : 'nsup metrics';
    const hasRaw = m.names.includes('raw cluster');
    const f = m.slopeFmt ?? ((v) => v.toFixed(2));
    const show = (v) => (v === null ? '—' : f(v));
    const over = (n) => {
      const ns = med(n, nsupName, m.key);
      if (ns === null) return null;
      if (!hasRaw) return ns;
      const raw = med(n, 'raw cluster', m.key);
      return raw === null ? null : ns - raw;
    };
    const rawSlope = hasRaw ? slope(small, large, med(small, 'raw cluster', m.key), med(large, 'raw cluster', m.key)) : null;
    const nsSlope = slope(small, large, med(small, nsupName, m.key), med(large, nsupName, m.key));
    const s1 = slope(small, mid, over(small), over(mid));
    const s2 = slope(mid, large, over(mid), over(large));
    // A ratio of slopes means something only when the first one is clearly above noise.
    const ratio = s1 !== null && s2 !== null && s1 > 0 && Math.abs(s1) > 1e-9 ? two(s2 / s1) : '—';
    const label = nsupName === 'nsup metrics' ? `${m.label} (metrics on)` : m.label;
    growth.push(`| ${label} | ${hasRaw ? show(rawSlope) : ''} | ${show(nsSlope)} | ${show(s1)} | ${show(s2)} | ${ratio} |`);
  }
  return [...lines, ...growth];
}
