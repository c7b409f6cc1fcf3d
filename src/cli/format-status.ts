// Renders the status document as the `nsup status` table. Only node built-ins and ./types here:
// `nsup status` must start fast.

import type { AppStatus, StatusDocument, SupervisorStatus, WorkerStatus } from '../control/types.ts';
import { jobLines, recycleLines } from './format-jobs.ts';

/** How to render: colors only for a terminal, `now` for "ago" times, `filter` to show one app. */
export interface FormatStatusOptions {
  color: boolean;
  now?: number;
  filter?: string;
}

/** Render the status document: per supervisor a column header, then per app a summary line and its worker rows. */
export function formatStatus(doc: StatusDocument, opts: FormatStatusOptions): string {
  const now = opts.now ?? Date.now();
  const paint = opts.color ? colorize : (_state: string, text: string) => text;
  const supervisors = doc.supervisors
    .map((sup) => ({ sup, apps: sortApps(sup.apps.filter((app) => opts.filter === undefined || app.name === opts.filter)) }))
    .filter(({ apps }) => apps.length > 0);
  if (supervisors.length === 0) return `${emptyMessage(doc, opts.filter)}\n`;

  // Widths come from every row of the document, so the tables of several supervisors line up too.
  const rowsOf = new Map(supervisors.flatMap(({ apps }) => apps.map((app) => [app, workerRows(app)] as const)));
  const rows = [...rowsOf.values()].flat();
  const widths = HEADER.map((title, i) => Math.max(title.length, ...rows.map((row) => visibleWidth(row[i] ?? ''))));

  const blocks = supervisors.map(({ sup, apps }) => {
    const lines: string[] = [];
    if (doc.supervisors.length > 1) lines.push(supervisorLine(sup));
    lines.push(alignRow(HEADER, widths));
    for (const app of apps) {
      lines.push(appLine(app, widths[0] ?? 0, now, paint));
      for (const row of rowsOf.get(app) ?? []) lines.push(alignRow(row.map((cell, i) => (i === STATE_COLUMN ? paint(cell, cell) : cell)), widths));
      lines.push(...notUpLines(app));
      lines.push(...doneLines(app));
      lines.push(...releaseLines(app));
      lines.push(...hookLines(app));
      lines.push(...recycleLines(app, now));
      lines.push(...jobLines(app, now, (text) => truncate(oneLine(text), REASON_MAX * 2)));
    }
    return lines.join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}

/** Whether to color output for this stream: a TTY, NO_COLOR unset (any value disables), and TERM not 'dumb'. */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

/** Human uptime: `45s`, `12m`, `3h 4m`, `2d 1h`. */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Human memory in binary units labelled as `top` and `ps` users expect: `512 B`, `52.1 MB`, `1.2 GB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

const HEADER = ['APP', 'ID', 'PID', 'STATE', 'UPTIME', 'RESTARTS', 'CPU', 'MEMORY', 'REQ/S', 'CONNS', 'GEN'];
const STATE_COLUMN = 3;
const REASON_MAX = 50;

const GREEN = new Set(['running', 'listening', 'ready']);
const YELLOW = new Set(['starting', 'online', 'reloading', 'waiting', 'stopping']);
const RED = new Set(['crash-loop', 'errored']);

// The plain cells of an app's rows; an app without workers gets one row carrying its app state.
function workerRows(app: AppStatus): string[][] {
  if (app.workers.length === 0) return [[app.name, '-', '-', app.state, '-', '-', '-', '-', '-', '-', String(app.generation)]];
  return [...app.workers].sort(byIdThenGeneration).map((w) => [
    app.name,
    String(w.id),
    w.pid === null ? '-' : String(w.pid),
    w.state,
    w.pid === null ? '-' : formatUptime(w.uptimeMs),
    String(w.restarts),
    w.cpuPercent === null ? '-' : `${w.cpuPercent.toFixed(1)}%`,
    w.rssBytes === null ? '-' : formatBytes(w.rssBytes),
    w.live ? formatRate(w.live.reqPerSec) : '-',
    formatConnections(w.connections),
    String(w.generation),
  ]);
}

/** Requests per second as a column cell: `0`, `4.5`, `87`, `1234`, `12.3k`. */
export function formatRate(perSec: number): string {
  if (perSec >= 10_000) return `${(perSec / 1000).toFixed(1)}k`;
  if (perSec >= 10 || Number.isInteger(perSec)) return String(Math.round(perSec));
  return perSec.toFixed(1);
}

/** Open connections by kind, zeros left out: `3 req 5 idle 20 ws 2 sse`; `0` when none, `-` before the first report. */
export function formatConnections(c: WorkerStatus['connections'] | undefined): string {
  if (!c) return '-';
  const parts = [
    [c.inFlight, 'req'],
    [c.keepAlive, 'idle'],
    [c.websocket, 'ws'],
    [c.stream, 'sse'],
  ].flatMap(([n, kind]) => (n ? [`${n} ${kind}`] : []));
  return parts.length === 0 ? '0' : parts.join(' ');
}

// Under an app's rows: why each worker that is not up yet is not (`  worker 0: online, has not listened …`).
function notUpLines(app: AppStatus): string[] {
  return app.workers.flatMap((w) => (w.notUpReason ? [`  worker ${w.id} (pid ${w.pid ?? '-'}) not up: ${oneLine(w.notUpReason)}`] : []));
}

// Under an app's rows: each done slot and the code it exited with (`  worker 1 done: exited with code 42 …`).
function doneLines(app: AppStatus): string[] {
  return app.workers.flatMap((w) => (w.state === 'done' ? [`  worker ${w.id} done: exited with code ${w.exitCode ?? '?'} (restart.stopExitCodes); reload, scale or restart starts it again`] : []));
}

// Under an app's rows: where each generation runs from (its real directory), when that says
// something: during a reload (both generations), or when the cwd is a symlink (a `current` release).
function releaseLines(app: AppStatus): string[] {
  const gens = app.generations ?? [];
  const symlinked = gens.some((g) => app.cwd !== undefined && g.cwd !== app.cwd);
  if (gens.length < 2 && !symlinked) return [];
  return gens.map((g) => `  gen ${g.generation} ${g.role} from ${g.cwd} (${g.workers} worker${g.workers === 1 ? '' : 's'})`);
}

// Under an app's rows: each primary hook that failed, or that threw since it loaded
// (`  primary hook ./cluster-setup.js failed: TypeError: …`). Paths are shown relative to the
// app's script folder when they are inside it.
function hookLines(app: AppStatus): string[] {
  return (app.primaryHooks ?? []).flatMap((hook) => {
    const file = shownHook(hook.file, app.script);
    const error = truncate(oneLine(hook.error ?? ''), REASON_MAX * 2);
    if (hook.state === 'failed') return [`  primary hook ${file} failed: ${error}`];
    if (hook.failures > 0) return [`  primary hook ${file}: ${hook.failures} error${hook.failures === 1 ? '' : 's'}, last: ${error}`];
    return [];
  });
}

function shownHook(file: string, script: string): string {
  const dir = script.slice(0, script.lastIndexOf('/') + 1);
  return dir !== '' && file.startsWith(dir) ? `./${file.slice(dir.length)}` : file;
}

// `web  running  2/2 up  gen 3`, plus the last failure when the app has one.
function appLine(app: AppStatus, nameWidth: number, now: number, paint: (state: string, text: string) => string): string {
  // Up by the app's readyWhen; documents from an older supervisor have no `up`: listening or ready.
  const up = app.workers.filter((w) => (w.up ?? (w.state === 'listening' || w.state === 'ready')) && w.state !== 'stopping').length;
  const parts = [app.name.padEnd(nameWidth), paint(app.state, app.state), `${up}/${app.desired} up${app.singleton ? ' (singleton)' : ''}`, `gen ${app.generation}`];
  const failure = app.lastFailure;
  if (failure !== null) {
    const at = Date.parse(failure.at);
    const ago = Number.isNaN(at) ? '' : ` ${formatUptime(now - at)} ago`;
    parts.push(paint('errored', `last failure${ago} (worker ${failure.worker}):`) + ` ${truncate(oneLine(failure.reason), REASON_MAX)}`);
  }
  return parts.join('  ');
}

// "supervisor 4242 (foreground, /srv/app/supervisor.config.ts)"
function supervisorLine(sup: SupervisorStatus): string {
  return `supervisor ${sup.pid} (${sup.mode}${sup.config === null ? '' : `, ${sup.config}`})`;
}

function emptyMessage(doc: StatusDocument, filter: string | undefined): string {
  if (doc.supervisors.length === 0) return 'no supervisor is running';
  const names = doc.supervisors.flatMap((s) => s.apps.map((a) => a.name)).sort();
  if (filter === undefined) return 'no apps';
  return `no app named "${filter}"${names.length > 0 ? ` (apps: ${names.join(', ')})` : ''}`;
}

function sortApps(apps: AppStatus[]): AppStatus[] {
  return [...apps].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function byIdThenGeneration(a: WorkerStatus, b: WorkerStatus): number {
  return a.id - b.id || a.generation - b.generation;
}

// Pads every cell but the last to its column's visible width, two spaces between columns.
function alignRow(cells: string[], widths: number[]): string {
  return cells
    .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleWidth(cell)))))
    .join('  ');
}

function colorize(state: string, text: string): string {
  const code = GREEN.has(state) ? 32 : YELLOW.has(state) ? 33 : RED.has(state) ? 31 : null;
  return code === null ? text : `\u001b[${code}m${text}\u001b[39m`;
}

// ANSI escape sequences (CSI … letter) take no columns.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

function visibleWidth(text: string): number {
  return text.replace(ANSI, '').length;
}

// A reason may quote a worker's stderr: keep its first line, and drop escapes and control characters.
function oneLine(text: string): string {
  const first = text.replace(ANSI, '').split(/\r?\n/).find((line) => line.trim() !== '') ?? '';
  return first.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\s+/g, ' ').trim();
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
