// The `nsup monit` screen, as ink components (React.createElement: no JSX build step). It draws
// when the Monitor reports (once a second), when a key is pressed, and when output arrives (in
// batches): nothing runs in between.
import { Box, Text, useApp, useInput, useWindowSize } from 'ink';
import React, { useEffect, useState } from 'react';
import { actionOf, keyHelp } from './keys.ts';
import type { Monitor, MonitSnapshot } from './monitor.ts';
import { COLUMNS, COLUMN_WIDTHS, STATE_COLUMN, failureHeading, itemsOf, monitLines, resolveSelection, sanitize, type MonitItem, type MonitLine } from './rows.ts';
import type { OutputLine } from './follow.ts';

/** What the screen is given. */
export interface MonitViewProps {
  monitor: Monitor;
  /** Only this app (`nsup monit web`). */
  filter: string | undefined;
  /** The runtime dir, named when nothing runs. */
  dir: string;
  /** ANSI colors (off with NO_COLOR or TERM=dumb). */
  color: boolean;
  /** Whether stdin is a terminal (keys work). */
  keys: boolean;
  /** Box-drawing characters and arrows (a UTF-8 locale); ASCII otherwise. */
  unicode: boolean;
}

type Message = { ok: boolean; text: string } | null;

// The last failure's stderr lines shown under its heading.
const STDERR_TAIL = 6;

const h = React.createElement;

/** The whole screen. */
export function MonitView(props: MonitViewProps): React.ReactElement {
  const { monitor, filter, color, unicode } = props;
  const [snapshot, setSnapshot] = useState<MonitSnapshot | null>(null);
  const [, setOutputCount] = useState(0);
  const [selection, setSelection] = useState<{ key: string | null; index: number }>({ key: null, index: 0 });
  const [message, setMessage] = useState<Message>(null);
  const { exit } = useApp();
  const { columns, rows } = useWindowSize();

  useEffect(() => {
    const onStatus = (s: MonitSnapshot) => setSnapshot(s);
    const onOutput = () => setOutputCount((n) => n + 1);
    monitor.on('status', onStatus);
    monitor.on('output', onOutput);
    monitor.start();
    return () => {
      monitor.off('status', onStatus);
      monitor.off('output', onOutput);
      monitor.close();
    };
  }, [monitor]);

  const now = snapshot?.at ?? Date.now();
  const lines = snapshot ? monitLines(snapshot.supervisors, filter, now) : [];
  const items = itemsOf(lines);
  const index = resolveSelection(items, selection.key, selection.index);
  const selected = items[index] ?? null;

  useEffect(() => {
    monitor.followApp(selected?.supervisorPath ?? null, selected?.app.name ?? null);
  }, [monitor, selected?.supervisorPath, selected?.app.name]);

  useInput(
    (input, key) => {
      const action = actionOf(input, key);
      if (!action) return;
      if (action.type === 'quit') return exit();
      if (action.type === 'move') {
        if (items.length === 0) return;
        const next = Math.min(Math.max(index + (Number.isFinite(action.by) ? action.by : action.by > 0 ? items.length : -items.length), 0), items.length - 1);
        setSelection({ key: items[next]!.key, index: next });
        return;
      }
      if (!selected) return setMessage({ ok: false, text: 'nothing selected: no app is running' });
      const app = selected.app.name;
      if (action.type === 'reload') {
        setMessage({ ok: true, text: `${app}: reloading (rolling, one worker at a time)…` });
        void monitor.reload(selected.supervisorPath, app).then(setMessage);
      } else {
        setMessage({ ok: true, text: `${app}: scaling ${action.delta > 0 ? 'up' : 'down'} by 1…` });
        void monitor.scale(selected.supervisorPath, app, action.delta).then(setMessage);
      }
    },
    { isActive: props.keys },
  );

  const rule = unicode ? '─' : '-';
  const width = Math.max(20, columns);
  const height = Math.max(8, rows);
  const paint = (c: string | undefined) => (color ? c : undefined);

  // Heights: title, column header, the table (at most 60% of the screen, scrolled to the selection),
  // the failure block, the output pane (the rest), the message line.
  const failure = selected ? failureHeading(selected.app, now) : null;
  const stderr = failure ? (selected!.app.lastFailure?.stderr ?? []).slice(-STDERR_TAIL) : [];
  const failureRows = failure ? 1 + stderr.length : 0;
  const tableMax = Math.max(3, Math.min(lines.length, Math.floor((height - 6 - failureRows) * 0.6)));
  const shown = windowAround(lines, selected, tableMax);
  const notice = lines.length === 0 ? 1 : 0;
  const outputRows = Math.max(1, height - 4 - notice - shown.length - failureRows);
  const output = selected?.worker ? monitor.output(selected.app.name, selected.worker.id, outputRows) : [];

  const title = `nsup monit${filter ? ` ${filter}` : ''}  ${new Date(now).toLocaleTimeString()}  ${keyHelp(unicode)}`;
  const children: React.ReactNode[] = [
    line('title', title, { bold: true }),
    line('header', `  ${pad(COLUMNS.map(String))}`, { bold: true }),
  ];
  if (snapshot === null) children.push(line('wait', 'reading status…'));
  else if (lines.length === 0) children.push(line('empty', emptyText(snapshot, filter, props.dir)));
  for (const [i, l] of shown.entries()) children.push(tableLine(`t${i}`, l, l.kind === 'worker' && l.item === selected, paint));
  children.push(line('out-rule', ruleText(outputHeading(selected, monitor.followEnded()), rule, width), { dimColor: color }));
  for (const [i, o] of output.entries()) children.push(outputLine(`o${i}`, o, paint));
  if (output.length === 0) children.push(line('out-none', selected?.worker ? '(no output from this worker yet)' : '', { dimColor: color }));
  children.push(h(Box, { key: 'spacer', flexGrow: 1 }));
  if (failure) {
    children.push(line('fail', ruleText(`last failure of ${selected!.app.name}: ${failure}`, rule, width), { color: paint('red') }));
    for (const [i, s] of stderr.entries()) children.push(line(`e${i}`, `  ${sanitize(s)}`, { color: paint('red') }));
  }
  children.push(line('msg', message ? message.text : props.keys ? '' : 'keys are off: stdin is not a terminal', { color: paint(message && !message.ok ? 'red' : undefined) }));
  return h(Box, { flexDirection: 'column', width, height }, ...children);
}

// One line of text, cut at the screen's edge.
function line(key: string, text: string, style: { bold?: boolean; dimColor?: boolean; color?: string | undefined; inverse?: boolean } = {}): React.ReactElement {
  const props: Record<string, unknown> = { key, wrap: 'truncate-end' };
  for (const [name, value] of Object.entries(style)) if (value !== undefined && value !== false) props[name] = value;
  return h(Text, props, text === '' ? ' ' : text);
}

function tableLine(key: string, l: MonitLine, isSelected: boolean, paint: (c: string | undefined) => string | undefined): React.ReactElement {
  if (l.kind === 'app') return line(key, l.text, { bold: true, color: paint(stateColor(l.app.state)) });
  const marker = isSelected ? '> ' : '  ';
  const before = pad(l.cells.slice(0, STATE_COLUMN));
  const state = padCell(l.cells[STATE_COLUMN] ?? '', COLUMN_WIDTHS[STATE_COLUMN]);
  const after = pad(l.cells.slice(STATE_COLUMN + 1), STATE_COLUMN + 1);
  // The selected row is bold, and inverted where colors are on; the marker says it without either.
  const style = { bold: isSelected, inverse: isSelected && paint('x') !== undefined };
  return h(
    Text,
    { key, wrap: 'truncate-end', ...style },
    marker + before,
    h(Text, { color: paint(stateColor(l.cells[STATE_COLUMN] ?? '')) }, state),
    after,
  );
}

function outputLine(key: string, o: OutputLine, paint: (c: string | undefined) => string | undefined): React.ReactElement {
  const time = Number.isNaN(o.time) ? '        ' : new Date(o.time).toTimeString().slice(0, 8);
  const tag = o.stream === 'err' ? 'err' : o.stream === 'nsup' ? 'nsup' : 'out';
  const color = o.stream === 'err' ? paint('red') : o.stream === 'nsup' ? paint('cyan') : undefined;
  return h(Text, { key, wrap: 'truncate-end' }, `${time} `, h(Text, { color }, tag.padEnd(4)), ` ${sanitize(o.msg)}`);
}

// The table lines to show: all of them if they fit, else a window that keeps the selection in view.
function windowAround(lines: MonitLine[], selected: MonitItem | null, max: number): MonitLine[] {
  if (lines.length <= max) return lines;
  const at = Math.max(0, lines.findIndex((l) => l.kind === 'worker' && l.item === selected));
  const start = Math.min(Math.max(0, at - Math.floor(max / 2)), lines.length - max);
  return lines.slice(start, start + max);
}

function outputHeading(selected: MonitItem | null, ended: string | null): string {
  if (!selected) return 'output';
  const w = selected.worker;
  const who = w ? `${selected.app.name} worker ${w.id}${w.pid === null ? '' : ` (pid ${w.pid})`}` : selected.app.name;
  return `output of ${who}${ended ? ` (not following: ${ended})` : ''}`;
}

function emptyText(snapshot: MonitSnapshot, filter: string | undefined, dir: string): string {
  if (snapshot.supervisors.length === 0) return `nothing is running: no live nsup supervisor in ${dir}. Start one with: nsup start app.js -d (monit keeps watching)`;
  const names = snapshot.supervisors.flatMap((s) => s.status.apps.map((a) => a.name)).sort();
  return `no app named '${filter}' is running${names.length ? ` (running: ${names.join(', ')})` : ''}; monit keeps watching`;
}

function ruleText(title: string, rule: string, width: number): string {
  const head = `${rule}${rule} ${title} `;
  return head + rule.repeat(Math.max(0, width - head.length));
}

function pad(cells: string[], from = 0): string {
  return cells.map((cell, i) => padCell(cell, COLUMN_WIDTHS[from + i] ?? 0)).join('');
}

function padCell(cell: string, width: number): string {
  return cell.length >= width ? `${cell} ` : cell.padEnd(width);
}

function stateColor(state: string): string | undefined {
  if (state === 'running' || state === 'listening' || state === 'ready') return 'green';
  if (state === 'starting' || state === 'online' || state === 'reloading' || state === 'waiting' || state === 'stopping') return 'yellow';
  if (state === 'crash-loop' || state === 'errored') return 'red';
  return undefined;
}
