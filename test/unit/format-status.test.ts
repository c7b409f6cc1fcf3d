// formatStatus / shouldColor: the `nsup status` table, with and without color.

import { describe, expect, it } from 'vitest';
import { formatBytes, formatStatus, formatUptime, shouldColor } from '../../src/cli/format-status.ts';
import type { AppStatus, JobResultStatus, JobStatus, StatusDocument, SupervisorStatus, WorkerStatus } from '../../src/control/types.ts';

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
    worker({ id: 1, pid: 5102, state: 'listening', generation: 2, uptimeMs: 11_040_000, rssBytes: 61.4 * MB, cpuPercent: 0.4, up: true, connections: { inFlight: 3, keepAlive: 5, websocket: 20, stream: 2 }, live: { requests: 91_230, reqPerSec: 1234.4, elu: 0.31, eventLoopDelayMs: { p50: 0.1, p99: 4.2, max: 6 } } }),
    worker({ id: 0, pid: 5203, state: 'online', generation: 3, uptimeMs: 1_200, rssBytes: 30.2 * MB, cpuPercent: 12.5, notUpReason: "online, has not listened after 1.2s: a worker without a server needs readyWhen 'online'" }),
    worker({ id: 0, pid: 5101, state: 'listening', generation: 2, uptimeMs: 176_400_000, rssBytes: 52.1 * MB, cpuPercent: 1.25, up: true, connections: { inFlight: 0, keepAlive: 0, websocket: 0, stream: 0 }, live: { requests: 12, reqPerSec: 0, elu: 0.001, eventLoopDelayMs: { p50: 0, p99: 0.3, max: 0.5 } } }),
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
        'APP  ID  PID   STATE      UPTIME  RESTARTS  CPU    MEMORY   REQ/S  CONNS                     GEN',
        "api  crash-loop  1/2 up  gen 1  last failure 12s ago (worker 1): exited with code 1 after 0.3s: Error: Cannot find…",
        'api  0   4301  ready      45s     0         0.0%   45.8 MB  -      -                         1',
        'api  1   -     waiting    -       4         -      -        -      -                         1',
        'web  reloading  2/2 up  gen 3',
        'web  0   5101  listening  2d 1h   0         1.3%   52.1 MB  0      0                         2',
        'web  0   5203  online     1s      0         12.5%  30.2 MB  -      -                         3',
        'web  1   5102  listening  3h 4m   0         0.4%   61.4 MB  1234   3 req 5 idle 20 ws 2 sse  2',
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
      const starts = ['ID', 'PID', 'STATE', 'UPTIME', 'RESTARTS', 'CPU', 'MEMORY', 'REQ/S', 'CONNS', 'GEN'].map((title) => header.indexOf(title));
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
        'APP   ID  PID  STATE    UPTIME  RESTARTS  CPU  MEMORY  REQ/S  CONNS  GEN',
        'jobs  errored  0/1 up  gen 2',
        'jobs  -   -    errored  -       -         -    -       -      -      2',
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
    expect(lines).toContain('web   0   5101  listening  2d 1h   0         1.3%   52.1 MB  0      0                         2');
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

describe('formatStatus: jobs, recycling and singletons', () => {
  const job = (over: Partial<JobStatus>): JobStatus => ({
    name: 'backup',
    schedule: '0 4 * * *',
    timezone: null,
    overlap: 'skip',
    timeoutMs: null,
    nextRun: null,
    running: null,
    queued: 0,
    lastRun: null,
    missed: null,
    runs: { ok: 0, failed: 0, timedOut: 0 },
    skipped: 0,
    missedTicks: 0,
    ...over,
  });
  const result = (over: Partial<JobResultStatus>): JobResultStatus => ({
    job: 'backup',
    trigger: 'schedule',
    tick: '2025-05-31T16:00:00.000Z',
    startedAt: '2025-05-31T16:00:00.000Z',
    durationMs: 4100,
    code: 0,
    signal: null,
    ok: true,
    timedOut: false,
    reason: 'exit 0',
    output: ['done'],
    ...over,
  });
  const lines = (a: AppStatus) => formatStatus({ supervisors: [supervisor({ apps: [a] })] }, { color: false, now: NOW }).split('\n');

  it('shows each job: schedule and zone, next run, run in progress, last result with its last output line when it failed', () => {
    const web = app({
      name: 'web',
      jobs: [
        job({ timezone: 'Europe/Paris', nextRun: '2025-06-01T15:02:00.000Z', lastRun: result({}), runs: { ok: 1, failed: 0, timedOut: 0 } }),
        job({
          name: 'sync',
          schedule: '*/10 * * * * *',
          nextRun: '2025-06-01T12:00:10.000Z',
          running: { pid: 4312, startedAt: '2025-06-01T11:59:57.000Z', trigger: 'schedule', tick: '2025-06-01T11:59:57.000Z' },
          lastRun: result({ job: 'sync', startedAt: '2025-06-01T11:59:47.800Z', durationMs: 200, code: 1, ok: false, reason: 'exit 1', output: ['connecting', 'Error: ECONNREFUSED 127.0.0.1:5432\n  at x'] }),
          skipped: 3,
        }),
        job({ name: 'report', schedule: '0 0 1 * *' }),
      ],
    });
    const out = lines(web);
    expect(out).toContain('  job backup  0 4 * * * (Europe/Paris)  next in 3h 2m  last ok: exit 0 in 4.1s, 19h 59m ago');
    expect(out).toContain('  job sync  */10 * * * * *  running 3.0s (pid 4312)  next in 10s  last failed: exit 1 in 200ms, 12s ago: Error: ECONNREFUSED 127.0.0.1:5432  3 skipped');
    expect(out).toContain('  job report  0 0 1 * *  no next run  never ran');
  });

  it('reports missed ticks on their own line, and says they were not replayed', () => {
    const out = lines(app({ name: 'web', jobs: [job({ nextRun: '2025-06-02T04:00:00.000Z', missed: { from: '2025-06-01T04:00:00.000Z', to: '2025-06-01T04:00:00.000Z', reason: 'down' }, missedTicks: 1 })] }));
    expect(out).toContain('  job backup missed its ticks from 2025-06-01 04:00:00Z to 2025-06-01 04:00:00Z while nsup was not running; they were not replayed');
  });

  it('shows the recycle schedule, each worker against its maxRequests, and marks a singleton', () => {
    const web = app({
      name: 'web',
      desired: 2,
      singleton: true,
      recycle: { schedule: '0 4 * * *', timezone: 'UTC', nextRun: '2025-06-01T16:00:00.000Z', lastRun: null, count: 2 },
      limits: { maxMemoryBytes: null, killTimeoutMs: 5000, listenTimeoutMs: 10_000, restart: { delayMs: 100, maxDelayMs: 15_000, minUptimeMs: 1000, maxRestarts: null, stopExitCodes: [] }, maxRequests: 1000, maxRequestsJitter: 200 },
      workers: [worker({ id: 0, pid: 11, state: 'listening', up: true, requests: 812, maxRequests: 1093 }), worker({ id: 1, pid: 12, state: 'listening', up: true, requests: null, maxRequests: 1150 })],
    });
    const out = lines(web);
    expect(out).toContain('web  running  2/2 up (singleton)  gen 1');
    expect(out).toContain('  recycle 0 4 * * * (UTC)  next in 4h 0m  2 so far (a rolling reload each)');
    expect(out).toContain('  maxRequests 1000 (+0..200)  worker 0: 812/1093  worker 1: -/1150');
  });

  it('adds nothing for an app without jobs, recycle or maxRequests (and for older documents)', () => {
    expect(lines(app({ name: 'web', jobs: [], recycle: null })).filter((l) => l.startsWith('  '))).toEqual([]);
  });
});
