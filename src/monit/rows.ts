// What `nsup monit` shows, as plain data: the status documents of the live supervisors flattened
// into selectable items (one per worker, or one per app without workers), the cells of each row,
// and the selection that survives a refresh. Pure: unit-tested without a terminal.
import type { AppStatus, LiveStatus, ReloadStatus, SupervisorStatus, WorkerStatus } from '../control/types.ts';
import { formatBytes, formatUptime } from '../cli/format-status.ts';

/** One supervisor as monit polls it: its status and its control socket. */
export interface PolledSupervisor {
  path: string;
  status: SupervisorStatus;
}

/** A selectable line of the table: a worker, or an app that has none (stopped, scaled to 0). */
export interface MonitItem {
  /** Stable across refreshes: supervisor pid / app / slot / generation. */
  key: string;
  supervisorPath: string;
  supervisorPid: number;
  app: AppStatus;
  worker: WorkerStatus | null;
}

/** One line of the table: an app's summary or a worker's row (`item` set when it is selectable). */
export type MonitLine = { kind: 'app'; app: AppStatus; supervisorPid: number; text: string } | { kind: 'worker'; item: MonitItem; cells: string[] };

/** The worker table's columns (the app's name is on its summary line above its workers). */
export const COLUMNS = ['ID', 'PID', 'STATE', 'UPTIME', 'RESTARTS', 'CPU', 'RSS', 'REQ/S', 'LOOP P99', 'GEN'] as const;
/** Width of each column: the widest value it usually holds. */
export const COLUMN_WIDTHS = [4, 8, 10, 8, 9, 7, 10, 8, 9, 4] as const;
/** The STATE column, colored by state. */
export const STATE_COLUMN = 2;

/** Every app of the polled supervisors (only `filter` when given), sorted by name, as table lines. */
export function monitLines(supervisors: PolledSupervisor[], filter: string | undefined, now: number): MonitLine[] {
  const lines: MonitLine[] = [];
  const several = supervisors.length > 1;
  for (const { path, status } of [...supervisors].sort((a, b) => a.status.pid - b.status.pid)) {
    const apps = status.apps.filter((a) => filter === undefined || a.name === filter).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const app of apps) {
      lines.push({ kind: 'app', app, supervisorPid: status.pid, text: appSummary(app, several ? status.pid : null, now) });
      const workers = [...app.workers].sort((a, b) => a.id - b.id || a.generation - b.generation);
      const base = { supervisorPath: path, supervisorPid: status.pid, app };
      if (workers.length === 0) lines.push({ kind: 'worker', item: { ...base, key: `${status.pid}/${app.name}/-`, worker: null }, cells: emptyCells(app) });
      for (const worker of workers) {
        lines.push({ kind: 'worker', item: { ...base, key: `${status.pid}/${app.name}/${worker.id}/${worker.generation}`, worker }, cells: workerCells(worker) });
      }
    }
  }
  return lines;
}

/** The selectable items of the lines, in order. */
export function itemsOf(lines: MonitLine[]): MonitItem[] {
  return lines.flatMap((line) => (line.kind === 'worker' ? [line.item] : []));
}

/**
 * The index of the item to select after a refresh: the same worker (key), else the same slot of
 * the app in another generation (a reload replaced it), else the same position, clamped.
 */
export function resolveSelection(items: MonitItem[], previousKey: string | null, previousIndex: number): number {
  if (items.length === 0) return -1;
  if (previousKey !== null) {
    const same = items.findIndex((item) => item.key === previousKey);
    if (same >= 0) return same;
    const slot = slotOf(previousKey);
    const sameSlot = items.findIndex((item) => slotOf(item.key) === slot);
    if (sameSlot >= 0) return sameSlot;
  }
  return Math.min(Math.max(previousIndex, 0), items.length - 1);
}

/** The cells of a worker's row; every figure not known yet (null, or absent from an older supervisor) is '-'. */
export function workerCells(w: WorkerStatus): string[] {
  const live = liveOf(w);
  const alive = w.pid !== null;
  return [
    String(w.id),
    alive ? String(w.pid) : '-',
    w.state,
    alive ? formatUptime(w.uptimeMs) : '-',
    String(w.restarts),
    w.cpuPercent == null ? '-' : `${w.cpuPercent.toFixed(1)}%`,
    w.rssBytes == null ? '-' : formatBytes(w.rssBytes),
    live && isNumber(live.reqPerSec) ? formatRate(live.reqPerSec) : '-',
    live && isNumber(live.eventLoopDelayMs?.p99) ? formatMs(live.eventLoopDelayMs!.p99) : '-',
    String(w.generation),
  ];
}

/** A worker's live figures, or null while it has not reported them (undefined: a supervisor that predates them). */
export function liveOf(w: WorkerStatus): Partial<LiveStatus> | null {
  return w.live ?? null;
}

/** `web  running  2/2 up  gen 3  41 req/s  last reload 5m ago: gen 3 in 1.2s` (and the supervisor when there are several). */
export function appSummary(app: AppStatus, supervisorPid: number | null, now: number): string {
  const up = app.workers.filter((w) => (w.up ?? (w.state === 'listening' || w.state === 'ready')) && w.state !== 'stopping').length;
  const parts = [app.name, app.state, `${up}/${app.desired} up${app.singleton ? ' (singleton)' : ''}`, `gen ${app.generation}`];
  const rates = app.workers.map((w) => liveOf(w)?.reqPerSec).filter(isNumber);
  if (rates.length > 0) parts.push(`${formatRate(rates.reduce((a, b) => a + b, 0))} req/s`);
  const reload = lastReload(app);
  if (reload) {
    const took = `${(reload.durationMs / 1000).toFixed(1)}s`;
    const at = reload.startedAt === undefined || Number.isNaN(Date.parse(reload.startedAt)) ? '' : ` ${formatUptime(now - Date.parse(reload.startedAt))} ago`;
    parts.push(reload.ok ? `last reload${at}: gen ${reload.generation} in ${took}` : `last reload${at} rolled back: ${oneLine(reload.reason ?? '')}`);
  }
  if (supervisorPid !== null) parts.push(`(supervisor ${supervisorPid})`);
  return parts.join('  ');
}

/** The app's last failure as one heading line: `3m ago, worker 1 (pid 4242): exited with code 1: Error: …`. */
export function failureHeading(app: AppStatus, now: number): string | null {
  const f = app.lastFailure;
  if (!f) return null;
  const at = Date.parse(f.at);
  const ago = Number.isNaN(at) ? '' : `${formatUptime(now - at)} ago, `;
  return `${ago}worker ${f.worker}${f.pid === null ? '' : ` (pid ${f.pid})`}: ${oneLine(f.reason)}`;
}

/** Requests per second: one decimal below 10, whole numbers above. */
export function formatRate(n: number): string {
  return n < 10 ? n.toFixed(1) : String(Math.round(n));
}

/** Milliseconds: `0.8ms`, `12ms`, `1.3s`. */
export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)}s`;
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

/** A line another program wrote, safe to print: no escape sequences or control characters (a worker could move the cursor or retitle the terminal). */
export function sanitize(text: string): string {
  return text
    .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '')
    .replace(/\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)?/g, '')
    .replace(/\t/g, '  ')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}

// The newest entry of the reload history (AppStatus.reloads), else the older lastReload.
function lastReload(app: AppStatus): (Omit<ReloadStatus, 'startedAt' | 'trigger'> & { startedAt?: string }) | null {
  return app.reloads?.at(-1) ?? app.lastReload ?? null;
}

function emptyCells(app: AppStatus): string[] {
  return ['-', '-', app.state, '-', '-', '-', '-', '-', '-', String(app.generation)];
}

// `pid/app/slot/gen` → `pid/app/slot`
function slotOf(key: string): string {
  const parts = key.split('/');
  return parts.length > 3 ? parts.slice(0, -1).join('/') : key;
}

function isNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

function oneLine(text: string): string {
  const first = sanitize(text.split(/\r?\n/).find((line) => line.trim() !== '') ?? '');
  return first.replace(/\s+/g, ' ').trim();
}
