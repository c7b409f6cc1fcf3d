// The supervisor core in-process, against a fake clock and a fake cluster: workers come online,
// listen, drain and exit when the simulation says so, and time passes only when the test advances
// it; job processes likewise (FakeJobRunner). Used by the simulation (fast-check) and the core's
// sequence tests.
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { ResolvedApp, ResolvedConfig } from '../../src/config/define.ts';
import { resolveConfig } from '../../src/config/schema.ts';
import type { JobRun } from '../../src/jobs/model.ts';
import type { JobProcess, JobRunner, JobSink } from '../../src/jobs/runner.ts';
import { MAX_TIMER_MS, type Clock } from '../../src/supervisor/clock.ts';
import { nextDeadline } from '../../src/supervisor/deadlines.ts';
import type { CoreModel } from '../../src/supervisor/model.ts';
import { Supervisor } from '../../src/supervisor/supervisor.ts';
import type { SpawnRequest, SpawnedWorker, Spawner, WorkerSink } from '../../src/worker/spawn.ts';

/** How a worker of some code behaves once forked. */
export type Code =
  /** online after 5 ms, listening after 20 ms, drains in 30 ms. */
  | 'good'
  /** exits with code 1 at boot (after 10 ms). */
  | 'crash'
  /** listens only after 3 s (longer than the simulation's listenTimeout). */
  | 'slow'
  /** online, never listens. */
  | 'never';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
  /** The core's own timer (untagged) or the fake cluster's. */
  core: boolean;
}

/** A clock whose time moves only in advance(); timers fire in order of time, then of arming. */
export class FakeClock implements Clock {
  time = 1_700_000_000_000;
  private timers: Timer[] = [];
  private seq = 0;

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): () => void {
    return this.arm(ms, fn, true);
  }

  /** A timer of the simulated world (not the core's). */
  later(ms: number, fn: () => void): void {
    this.arm(ms, fn, false);
  }

  /** Let `ms` pass, firing every timer due on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = Math.max(this.time, due.at);
      due.fn();
    }
    this.time = end;
  }

  /** The core's armed timers (it keeps at most one). */
  coreTimers(): Array<{ at: number }> {
    return this.timers.filter((t) => t.core && !t.cancelled);
  }

  private arm(ms: number, fn: () => void, core: boolean): () => void {
    // Like setTimeout: a delay above 2^31 - 1 ms is not honoured, so the core must step long waits.
    const timer: Timer = { at: this.time + Math.min(Math.max(0, ms), MAX_TIMER_MS), seq: this.seq++, fn, cancelled: false, core };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }
}

// Forks within one instant of simulated time that can only be a core re-forking in a loop.
const RUNAWAY_FORKS = 200;

/** One fake worker process. */
export interface FakeProc {
  pid: number;
  request: SpawnRequest;
  code: Code;
  alive: boolean;
  /** Told to drain (shutdown message or SIGTERM). */
  draining: boolean;
  /** A hung process: never drains, never beats; only SIGKILL ends it. */
  hung: boolean;
  signals: string[];
  sink: WorkerSink;
  /** Requests served so far (serve()). */
  requests: number;
  /** Its recycle message went out (once, at its requestLimit, like worker/requests.ts). */
  recycleSent: boolean;
}

/** node:cluster, faked: forks follow their code's script on the fake clock. */
export class FakeCluster implements Spawner {
  readonly procs: FakeProc[] = [];
  /** New workers crash at boot whatever their code (a database down, a full disk). */
  brokenEnv = false;
  /** fork() throws (EAGAIN). */
  spawnFails = false;
  /** Called at every fork, before the process exists (for invariants). */
  onFork: (request: SpawnRequest) => void = () => {};
  /** The core forked more than RUNAWAY_FORKS times without time passing. */
  runaway = false;
  private forksNow = 0;
  private forkedAt = -1;
  private nextPid = 1000;
  private readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }

  fork(request: SpawnRequest, sink: WorkerSink): SpawnedWorker {
    this.onFork(request);
    // A core that re-forks at once, forever, in one instant: stop the world (the process does nothing) so the test can report it.
    this.forksNow = this.forkedAt === this.clock.now() ? this.forksNow + 1 : 1;
    this.forkedAt = this.clock.now();
    if (this.forksNow > RUNAWAY_FORKS) {
      this.runaway = true;
      return { pid: this.nextPid++, connected: () => false, send: () => false, kill: () => {} };
    }
    if (this.spawnFails) throw new Error('spawn EAGAIN (simulated)');
    const code = (request.app.env.CODE as Code | undefined) ?? 'good';
    const proc: FakeProc = { pid: this.nextPid++, request, code, alive: true, draining: false, hung: false, signals: [], sink, requests: 0, recycleSent: false };
    this.procs.push(proc);
    const after = (ms: number, fn: () => void) => this.clock.later(ms, () => proc.alive && fn());
    const crashes = this.brokenEnv || code === 'crash';
    after(5, () => sink.online());
    if (crashes) after(10, () => this.exit(proc, 1, null, ['Error: cannot boot (simulated)']));
    else if (code === 'good') after(20, () => !proc.draining && sink.listening(':3000'));
    else if (code === 'slow') after(3000, () => !proc.draining && sink.listening(':3000'));
    // A second (public) port a little later: a worker is up only once it listens on both.
    if (!crashes && request.app.env.PORTS === '2' && (code === 'good' || code === 'slow')) after(code === 'slow' ? 3005 : 25, () => !proc.draining && sink.listening(':9001'));
    if (!crashes && request.app.readyWhen === 'ready') after(code === 'slow' ? 3010 : 30, () => !proc.draining && code !== 'never' && sink.message({ nsup: 1, type: 'ready' }));
    if (request.app.heartbeatTimeoutMs !== null) this.beat(proc, Math.max(50, Math.floor(request.app.heartbeatTimeoutMs / 4)));
    return {
      pid: proc.pid,
      connected: () => proc.alive,
      send: (message) => {
        if (!proc.alive) return false;
        if ((message as { type?: string }).type === 'shutdown') this.drain(proc);
        return true;
      },
      kill: (signal) => {
        if (!proc.alive) return;
        proc.signals.push(signal);
        if (signal === 'SIGKILL') this.clock.later(1, () => proc.alive && this.exit(proc, null, 'SIGKILL', []));
        else this.drain(proc);
      },
    };
  }

  /** Fake workers spawn nothing, so nothing is ever left to wait for. */
  settle(): Promise<void> {
    return Promise.resolve();
  }

  /** Live processes. */
  live(): FakeProc[] {
    return this.procs.filter((p) => p.alive);
  }

  /** The process serves `n` requests: at its requestLimit it sends the recycle message once, as worker/requests.ts does. */
  serve(proc: FakeProc, n: number): void {
    if (!proc.alive || proc.request.requestLimit == null) return;
    proc.requests += n;
    if (!proc.recycleSent && proc.requests >= proc.request.requestLimit) {
      proc.recycleSent = true;
      proc.sink.message({ nsup: 1, type: 'recycle', requests: proc.requests });
    }
  }

  /** The process exits now (a crash, a kill from outside). */
  exit(proc: FakeProc, code: number | null, signal: string | null, stderr: string[] = []): void {
    if (!proc.alive) return;
    proc.alive = false;
    proc.sink.exit(code, signal, stderr);
  }

  private drain(proc: FakeProc): void {
    if (proc.draining || proc.hung) return;
    proc.draining = true;
    this.clock.later(30, () => this.exit(proc, 0, null));
  }

  private beat(proc: FakeProc, every: number): void {
    this.clock.later(every, () => {
      if (!proc.alive) return;
      if (!proc.hung) proc.sink.message({ nsup: 1, type: 'heartbeat' });
      this.beat(proc, every);
    });
  }
}

/** One fake job process. */
export interface FakeJobProc {
  pid: number;
  app: string;
  run: Readonly<JobRun>;
  alive: boolean;
  signals: string[];
  sink: JobSink;
}

/**
 * Job processes, faked: a job's env says how it behaves. DURATION ms (default 50) or 'stuck' (never
 * ends by itself); IGNORE_TERM '1' ignores SIGTERM (only SIGKILL ends it); EXIT its exit code.
 */
export class FakeJobRunner implements JobRunner {
  readonly procs: FakeJobProc[] = [];
  /** start() throws (EAGAIN). */
  startFails = false;
  /** Called at every start, before the process exists (for invariants). */
  onStart: (request: { app: ResolvedApp; run: Readonly<JobRun> }) => void = () => {};
  private nextPid = 50_000;
  private readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }

  start(request: { app: ResolvedApp; run: Readonly<JobRun> }, sink: JobSink): JobProcess {
    this.onStart(request);
    if (this.startFails) throw new Error('spawn EAGAIN (simulated)');
    const env = request.run.config.env;
    const proc: FakeJobProc = { pid: this.nextPid++, app: request.app.name, run: request.run, alive: true, signals: [], sink };
    this.procs.push(proc);
    const duration = env.DURATION ?? '50';
    if (duration !== 'stuck') this.clock.later(Number(duration), () => this.exit(proc, Number(env.EXIT ?? 0), null));
    return {
      pid: proc.pid,
      kill: (signal) => {
        if (!proc.alive) return;
        proc.signals.push(signal);
        if (signal === 'SIGKILL') this.clock.later(1, () => this.exit(proc, null, 'SIGKILL'));
        else if (env.IGNORE_TERM !== '1') this.clock.later(5, () => this.exit(proc, null, 'SIGTERM'));
      },
    };
  }

  /** Fake jobs spawn nothing, so nothing is ever left to wait for. */
  settle(): Promise<void> {
    return Promise.resolve();
  }

  /** Live job processes. */
  live(): FakeJobProc[] {
    return this.procs.filter((p) => p.alive);
  }

  /** The process exits now. */
  exit(proc: FakeJobProc, code: number | null, signal: string | null): void {
    if (!proc.alive) return;
    proc.alive = false;
    proc.sink.exit(code, signal, [`job ${proc.run.job} output (simulated)`]);
  }
}

/** A deterministic PRNG in [0, 1) (mulberry32), for the maxRequests jitter. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A supervisor on a fake cluster, with its log lines kept. */
export interface Sim {
  clock: FakeClock;
  cluster: FakeCluster;
  jobs: FakeJobRunner;
  supervisor: Supervisor;
  /** The supervisor's JSON log lines, parsed lazily. */
  logs(): Array<Record<string, unknown>>;
  /** Raw log lines containing this text. */
  grep(text: string): string[];
  model: CoreModel;
  exitCode: number | null;
  /** The config an app of this sim would have with another code (a reload's new version). */
  withCode(app: string, code: Code): ResolvedApp;
}

/** Validate a config the way the CLI does (the script must exist; the fake cluster never runs it). */
export function simConfig(apps: Array<Record<string, unknown>>): ResolvedConfig {
  return resolveConfig({ apps: apps.map((app) => ({ script: './http-ok.js', ...app })) }, { file: null, baseDir: FIXTURE_APPS });
}

const FIXTURE_APPS = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));

/** Start a supervisor for `config` on a fake clock and cluster (started: its first workers are forked). */
export function startSim(
  config: ResolvedConfig,
  options: { start?: boolean; random?: () => number; lastTicks?: ReadonlyMap<string, number>; time?: number } = {},
): Sim {
  const clock = new FakeClock();
  if (options.time !== undefined) clock.time = options.time;
  const cluster = new FakeCluster(clock);
  const jobs = new FakeJobRunner(clock);
  const lines: string[] = [];
  const logger = pino({ level: 'info', base: null, timestamp: false }, { write: (line: string) => void lines.push(line) });
  const supervisor = new Supervisor({
    config,
    logger,
    spawner: cluster,
    clock,
    jobRunner: jobs,
    random: options.random ?? seededRandom(1),
    ...(options.lastTicks ? { lastTicks: options.lastTicks } : {}),
  });
  const sim: Sim = {
    clock,
    cluster,
    jobs,
    supervisor,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    grep: (text) => lines.filter((line) => line.includes(text)),
    model: (supervisor as unknown as { model: CoreModel }).model,
    exitCode: null,
    withCode: (app, code) => {
      const current = sim.model.apps.get(app)!.config;
      // Jobs and recycle as a new config file has them: equal values, new objects (the sync matches by value).
      return Object.freeze({
        ...current,
        env: { ...current.env, CODE: code },
        jobs: current.jobs.map((job) => ({ ...job, env: { ...job.env } })),
        recycle: current.recycle && { ...current.recycle },
      });
    },
  };
  void supervisor.done.then((code) => (sim.exitCode = code));
  if (options.start !== false) supervisor.start();
  return sim;
}

/** The core's armed timer is exactly the table's next deadline (none when nothing is due). */
export function timerMatchesDeadline(sim: Sim): string | null {
  const timers = sim.clock.coreTimers();
  const deadline = nextDeadline(sim.model, sim.clock.now());
  if (timers.length > 1) return `${timers.length} core timers armed`;
  if (!Number.isFinite(deadline)) return timers.length === 0 ? null : `a core timer is armed for ${timers[0]!.at} but nothing is due`;
  if (timers.length === 0) return `deadline ${deadline} has no timer`;
  // A deadline beyond setTimeout's range is armed in steps: the timer may come first, never after.
  const at = timers[0]!.at;
  return at === deadline || (at < deadline && deadline - sim.clock.now() > MAX_TIMER_MS - 1) ? null : `timer at ${at}, deadline at ${deadline}`;
}
