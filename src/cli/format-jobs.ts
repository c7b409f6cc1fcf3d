// The `nsup status` lines for an app's scheduled work and recycling: one line per job (schedule,
// next run, the run in progress, the last result), a missed-ticks report, the recycle schedule,
// and each worker's request count against its maxRequests. Only ./types here: status must start fast.
import type { AppStatus, JobStatus } from '../control/types.ts';

type Shorten = (text: string) => string;

/** `  job backup  0 4 * * * (Europe/Paris)  next in 3h 2m  last ok: exit 0 in 4.1s, 20h ago`, and a missed report when there is one. */
export function jobLines(app: AppStatus, now: number, shorten: Shorten): string[] {
  return (app.jobs ?? []).flatMap((job) => {
    const parts = [`  job ${job.name}`, job.timezone === null ? job.schedule : `${job.schedule} (${job.timezone})`];
    if (job.running) parts.push(`running ${formatSeconds(now - Date.parse(job.running.startedAt))}${job.running.pid === null ? '' : ` (pid ${job.running.pid})`}${job.running.trigger === 'manual' ? ' by nsup run' : ''}`);
    if (job.queued > 0) parts.push(`${job.queued} queued`);
    parts.push(job.nextRun === null ? 'no next run' : `next in ${formatIn(Date.parse(job.nextRun) - now)}`);
    parts.push(lastRun(job, now, shorten));
    if (job.skipped > 0) parts.push(`${job.skipped} skipped`);
    const lines = [parts.join('  ')];
    if (job.missed) {
      const why = job.missed.reason === 'down' ? 'while nsup was not running' : 'too late to run (the machine was suspended or the primary was blocked)';
      lines.push(`  job ${job.name} missed its ticks from ${shortTime(job.missed.from)} to ${shortTime(job.missed.to)} ${why}; they were not replayed`);
    }
    return lines;
  });
}

/** `  recycle 0 4 * * * (UTC)  next in 3h 2m  2 so far`; and with maxRequests, `  maxRequests 1000 (+0..200)  worker 0: 812/1093  worker 1: 233/1150`. */
export function recycleLines(app: AppStatus, now: number): string[] {
  const lines: string[] = [];
  const r = app.recycle;
  if (r) {
    const next = r.nextRun === null ? 'no next run' : `next in ${formatIn(Date.parse(r.nextRun) - now)}`;
    lines.push(`  recycle ${r.timezone === null ? r.schedule : `${r.schedule} (${r.timezone})`}  ${next}  ${r.count} so far (a rolling reload each)`);
  }
  const max = app.limits?.maxRequests;
  if (max !== undefined && max !== null) {
    const jitter = app.limits?.maxRequestsJitter ?? 0;
    const counts = app.workers.filter((w) => w.pid !== null).map((w) => `worker ${w.id}: ${w.requests ?? '-'}/${w.maxRequests ?? max}`);
    lines.push([`  maxRequests ${max}${jitter > 0 ? ` (+0..${jitter})` : ''}`, ...counts].join('  '));
  }
  return lines;
}

// `last ok: exit 0 in 4.1s, 20h ago`, `last failed: exit 1 in 0.2s, 12s ago: <its last output line>`, `never ran`.
function lastRun(job: JobStatus, now: number, shorten: Shorten): string {
  const last = job.lastRun;
  if (last === null) return 'never ran';
  const ended = Date.parse(last.startedAt) + last.durationMs;
  const text = `last ${last.ok ? 'ok' : 'failed'}: ${last.reason} in ${formatSeconds(last.durationMs)}, ${formatIn(now - ended)} ago`;
  const tail = last.output.at(-1);
  return last.ok || tail === undefined ? text : `${text}: ${shorten(tail)}`;
}

/** A run's length: `45ms`, `4.1s`, `12s`, then as uptimes (`3m`, `1h 2m`). */
export function formatSeconds(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  return formatIn(ms);
}

// `45s`, `12m`, `3h 4m`, `2d 1h` (as formatUptime; a copy, so that this file imports only types).
function formatIn(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

// '2025-06-01T04:00:00.000Z' → '2025-06-01 04:00:00Z'.
function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}
