// formatStatus / shouldColor: the `nsup status` table, with and without color.

import { describe, expect, it } from 'vitest';
import { formatBytes, formatStatus, formatUptime, shouldColor } from '../../src/cli/format-status.ts';
import type { AppStatus, StatusDocument, SupervisorStatus, WorkerStatus } from '../../src/control/types.ts';

const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const MB = 1024 * 1024;

const worker = (over: Partial<WorkerStatus>): WorkerStatus => ({
  id: 0,
  pid: null,
  state: 'waiting',
  generation: 1,
  restarts: 0,
  uptimeMs: 0,
  rssBytes: null,
  cpuPercent: null,
  up: false,
  addresses: [],
  notUpReason: null,
  connections: null,
  ...over,
});

const app = (over: Partial<AppStatus>): AppStatus => ({
  name: 'app',
  state: 'running',
  desired: 1,
  generation: 1,
  readyWhen: 'listening',
  script: 'server.js',
  lastFailure: null,
  lastReload: null,
  workers: [],
  ...over,
});

// `web` reloads to generation 3: worker 0 has an old and a new process. `api` crash-loops on worker 1.
// Listed out of order on purpose: the table sorts by app, then id, then generation.
const web = app({
  name: 'web',
  state: 'reloading',
  desired: 2,
  generation: 3,
  lastReload: { ok: true, generation: 2, durationMs: 812 },
  workers: [
    worker({ id: 1, pid: 5102, state: 'listening', generation: 2, uptimeMs: 11_040_000, rssBytes: 61.4 * MB, cpuPercent: 0.4, up: true, connections: { inFlight: 3, keepAlive: 5, websocket: 20, stream: 2 } }),
    worker({ id: 0, pid: 5203, state: 'online', generation: 3, uptimeMs: 1_200, rssBytes: 30.2 * MB, cpuPercent: 12.5, notUpReason: "online, has not listened after 1.2s: a worker without a server needs readyWhen 'online'" }),
    worker({ id: 0, pid: 5101, state: 'listening', generation: 2, uptimeMs: 176_400_000, rssBytes: 52.1 * MB, cpuPercent: 1.25, up: true, connections: { inFlight: 0, keepAlive: 0, websocket: 0, stream: 0 } }),
  ],
});
const api = app({
  name: 'api',
  state: 'crash-loop',
  desired: 2,
  lastFailure: {
    at: '2025-06-01T11:59:48.000Z',
    worker: 1,
    pid: 4311,
    code: 1,
    signal: null,
    reason: "exited with code 1 after 0.3s: Error: Cannot find module 'pg' imported from /srv/app/db.js\n    at resolve",
    stderr: ["Error: Cannot find module 'pg'"],
  },
  workers: [
    worker({ id: 1, state: 'waiting', restarts: 4 }),
    worker({ id: 0, pid: 4301, state: 'ready', uptimeMs: 45_900, restarts: 0, rssBytes: 48_000_000, cpuPercent: 0, up: true }),
  ],
});
const supervisor = (over: Partial<SupervisorStatus>): SupervisorStatus => ({
  pid: 4242,
  startedAt: '2025-06-01T09:00:00.000Z',
  node: 'v24.0.0',
  config: '/srv/app/supervisor.config.ts',
  mode: 'foreground',
  apps: [],
  ...over,
});
const doc: StatusDocument = { supervisors: [supervisor({ apps: [web, api] })] };

const strip = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');

describe('formatStatus', () => {
  it('renders one row per worker, sorted, under a summary line per app', () => {
    expect(formatStatus(doc, { color: false, now: NOW })).toBe(
      [
        'APP  ID  PID   STATE      UPTIME  RESTARTS  CPU    MEMORY   CONNS                     GEN',
        "api  crash-loop  1/2 up  gen 1  last failure 12s ago (worker 1): exited with code 1 after 0.3s: Error: Cannot find…",
        'api  0   4301  ready      45s     0         0.0%   45.8 MB  -                         1',
        'api  1   -     waiting    -       4         -      -        -                         1',
        'web  reloading  2/2 up  gen 3',
        'web  0   5101  listening  2d 1h   0         1.3%   52.1 MB  0                         2',
        'web  0   5203  online     1s      0         12.5%  30.2 MB  -                         3',
        'web  1   5102  listening  3h 4m   0         0.4%   61.4 MB  3 req 5 idle 20 ws 2 sse  2',
        "  worker 0 (pid 5203) not up: online, has not listened after 1.2s: a worker without a server needs readyWhen 'online'",
        '',
      ].join('\n'),
    );
  });

  it('colors states only when asked, and the text is the same once stripped', () => {
    const plain = formatStatus(doc, { color: false, now: NOW });
    const colored = formatStatus(doc, { color: true, now: NOW });
    expect(plain).not.toContain('\u001b[');
    expect(colored).toContain('\u001b[31mcrash-loop\u001b[39m');
    expect(colored).toContain('\u001b[32mlistening\u001b[39m');
    expect(colored).toContain('\u001b[33mwaiting\u001b[39m');
    expect(strip(colored)).toBe(plain);
  });

  it('aligns every worker row by visible width, colored or not', () => {
    for (const color of [false, true]) {
      const lines = strip(formatStatus(doc, { color, now: NOW })).trimEnd().split('\n');
      const table = lines.filter((line) => line.startsWith('APP') || /^\w+  \d+ /.test(line));
      expect(table).toHaveLength(6);
      const header = table[0] ?? '';
      const starts = ['ID', 'PID', 'STATE', 'UPTIME', 'RESTARTS', 'CPU', 'MEMORY', 'CONNS', 'GEN'].map((title) => header.indexOf(title));
      for (const row of table.slice(1)) {
        for (const start of starts) {
          // Each column starts right after a two-space gap, at the header's offset.
          expect(row.slice(start - 2, start)).toBe('  ');
          expect(row[start]).not.toBe(' ');
        }
      }
    }
  });

  it('shows only the filtered app', () => {
    const out = formatStatus(doc, { color: false, now: NOW, filter: 'web' });
    expect(out.split('\n').filter((line) => line.startsWith('api'))).toEqual([]);
    expect(out.split('\n').filter((line) => line.startsWith('web'))).toHaveLength(4);
    expect(formatStatus(doc, { color: false, filter: 'nope' })).toBe('no app named "nope" (apps: api, web)\n');
  });

  it('gives an app without workers one row carrying its app state', () => {
    const errored = app({ name: 'jobs', state: 'errored', generation: 2 });
    const out = formatStatus({ supervisors: [supervisor({ apps: [errored] })] }, { color: false, now: NOW });
    expect(out).toBe(
      [
        'APP   ID  PID  STATE    UPTIME  RESTARTS  CPU  MEMORY  CONNS  GEN',
        'jobs  errored  0/1 up  gen 2',
        'jobs  -   -    errored  -       -         -    -       -      2',
        '',
      ].join('\n'),
    );
  });

  it('names each supervisor when there are several, and aligns their tables alike', () => {
    const other = supervisor({ pid: 7001, mode: 'daemon', config: null, apps: [app({ name: 'jobs', workers: [worker({ pid: 7002, state: 'ready' })] })] });
    const out = formatStatus({ supervisors: [supervisor({ apps: [web] }), other] }, { color: false, now: NOW });
    const lines = out.split('\n');
    expect(lines[0]).toBe('supervisor 4242 (foreground, /srv/app/supervisor.config.ts)');
    expect(lines).toContain('supervisor 7001 (daemon)');
    // The summary line pads the app name like the rows do, across supervisors.
    expect(lines).toContain('web   reloading  2/2 up  gen 3');
    expect(lines).toContain('web   0   5101  listening  2d 1h   0         1.3%   52.1 MB  0                         2');
    const headers = lines.filter((line) => line.startsWith('APP'));
    expect(headers).toHaveLength(2);
    expect(headers[0]).toBe(headers[1]);
    expect(formatStatus(doc, { color: false, now: NOW })).not.toContain('supervisor 4242');
  });

  it('says so when no supervisor runs', () => {
    expect(formatStatus({ supervisors: [] }, { color: false })).toBe('no supervisor is running\n');
  });
});

describe('formatUptime / formatBytes', () => {
  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [12 * 60_000 + 5_000, '12m'],
    [3 * 3_600_000 + 4 * 60_000, '3h 4m'],
    [2 * 86_400_000 + 3_600_000 + 59_000, '2d 1h'],
  ])('uptime %d ms → %s', (ms, text) => expect(formatUptime(ms)).toBe(text));

  it.each([
    [512, '512 B'],
    [2048, '2.0 KB'],
    [52.1 * MB, '52.1 MB'],
    [1.5 * 1024 * MB, '1.5 GB'],
  ])('%d bytes → %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});

describe('shouldColor', () => {
  it.each([
    { name: 'a TTY', isTTY: true, env: {}, expected: true },
    { name: 'a pipe', isTTY: undefined, env: {}, expected: false },
    { name: 'isTTY false', isTTY: false, env: {}, expected: false },
    { name: 'NO_COLOR=1', isTTY: true, env: { NO_COLOR: '1' }, expected: false },
    { name: 'NO_COLOR empty', isTTY: true, env: { NO_COLOR: '' }, expected: false },
    { name: 'TERM=dumb', isTTY: true, env: { TERM: 'dumb' }, expected: false },
    { name: 'TERM=xterm-256color', isTTY: true, env: { TERM: 'xterm-256color' }, expected: true },
  ])('$name → $expected', ({ isTTY, env, expected }) => {
    expect(shouldColor({ isTTY }, env)).toBe(expected);
  });
});
