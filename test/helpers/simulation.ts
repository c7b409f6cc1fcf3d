// The simulation of the supervisor core (issue 10): random worlds (scenarios) and what happens in
// them (actions) as fast-check arbitraries, a step function that applies one action to the real core
// on a fake cluster and clock, and the invariants checked after every step and at quiescence.
// Issue 16 adds singleton apps (never two live processes), maxRequests (requests served), a job
// every second (each tick handled exactly once, at most one run, none after a stop) and recycle.
import fc from 'fast-check';
import type { AppModel } from '../../src/supervisor/model.ts';
import { isUp } from '../../src/supervisor/model.ts';
import { simConfig, startSim, timerMatchesDeadline, type Code, type Sim } from './fake-cluster.ts';

/** One thing that happens to the simulated world. */
export type Action =
  | { t: 'advance'; ms: number }
  /** A worker ends by itself: SIGKILL from outside, a crash (exit 1), or done (exit 42, a stop exit code where the app has stopExitCodes). */
  | { t: 'kill'; pick: number; signal: 'SIGKILL' | 'crash' | 'done' }
  | { t: 'hang'; pick: number }
  | { t: 'memory'; pick: number }
  | { t: 'env'; broken: boolean }
  | { t: 'spawn'; fails: boolean }
  | { t: 'reload'; app: number; code: Code }
  | { t: 'scale'; app: number; to: number }
  | { t: 'restart'; app: number }
  | { t: 'stop-app'; app: number }
  | { t: 'stop' }
  /** A worker serves this many requests (maxRequests counts them; at its limit it asks to be recycled). */
  | { t: 'requests'; pick: number; n: number }
  /** nsup run: the app's job now. */
  | { t: 'run-job'; app: number };

/** An app's scheduled job in a scenario: every second, running this long. */
export interface ScenarioJob {
  duration: 50 | 1500 | 'stuck';
  overlap: 'skip' | 'queue';
  timeout: '500ms' | null;
  ignoreTerm: boolean;
}

/** The apps a run supervises. */
export interface Scenario {
  apps: Array<{
    instances: number;
    readyWhen: 'listening' | 'ready' | 'online';
    twoPorts: boolean;
    heartbeat: boolean;
    maxMemory: boolean;
    maxRestarts: number | null;
    reloadBatch: number;
    stopExitCodes?: boolean;
    /** Issue 16: exactly one worker, never two alive (forces instances 1). */
    singleton?: boolean;
    /** maxRequests 100 with a jitter of 20. */
    maxRequests?: boolean;
    job?: ScenarioJob | null;
    /** A recycle schedule every 5 s. */
    recycle?: boolean;
  }>;
}

const jobArb: fc.Arbitrary<ScenarioJob> = fc.record({
  duration: fc.constantFrom(50 as const, 1500 as const, 'stuck' as const),
  overlap: fc.constantFrom('skip' as const, 'queue' as const),
  timeout: fc.constantFrom('500ms' as const, null),
  ignoreTerm: fc.boolean(),
});

/** Random worlds: one or two apps of 1-3 workers, each readyWhen, one or two listen ports, with or without heartbeats, maxMemory, maxRestarts, stopExitCodes [42]. */
export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  apps: fc.array(
    fc.record({
      instances: fc.integer({ min: 1, max: 3 }),
      readyWhen: fc.constantFrom('listening' as const, 'ready' as const, 'online' as const),
      twoPorts: fc.boolean(),
      heartbeat: fc.boolean(),
      maxMemory: fc.boolean(),
      maxRestarts: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
      reloadBatch: fc.integer({ min: 1, max: 2 }),
      stopExitCodes: fc.boolean(),
      singleton: fc.boolean(),
      maxRequests: fc.boolean(),
      job: fc.option(jobArb, { nil: null }),
      recycle: fc.boolean(),
    }),
    { minLength: 1, maxLength: 2 },
  ),
});

/** Random happenings, time passing most often; a stop rarely (about half the sequences of 40 have none, so that where the core settles is checked too). */
export const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 3000 })) }) },
  { weight: 15, arbitrary: fc.record({ t: fc.constant('kill' as const), pick: fc.nat(), signal: fc.constantFrom('SIGKILL' as const, 'crash' as const, 'done' as const) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('hang' as const), pick: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('memory' as const), pick: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('env' as const), broken: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('spawn' as const), fails: fc.boolean() }) },
  { weight: 15, arbitrary: fc.record({ t: fc.constant('reload' as const), app: fc.nat(), code: fc.constantFrom<Code>('good', 'good', 'crash', 'slow', 'never') }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('scale' as const), app: fc.nat(), to: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('restart' as const), app: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'stop-app' as const, app: 0 }) },
  { weight: 1, arbitrary: fc.constant({ t: 'stop' as const }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('requests' as const), pick: fc.nat(), n: fc.integer({ min: 1, max: 130 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('run-job' as const), app: fc.nat() }) },
);

/** A run of the simulation: the supervisor, and every request made with how often it was answered. */
export interface Run {
  sim: Sim;
  names: string[];
  /** open: may stay unanswered at quiescence unless stopped (nsup run of a job that never ends). */
  answers: Array<{ what: string; count: number; open?: boolean }>;
  stopped: boolean;
  violations: string[];
  /** `app:slot` → the generation whose worker exited with a stop exit code: that slot must stay empty (no worker, no restart) until a scale, or a new generation (reload, restart). */
  done: Map<string, number>;
  /** Every scheduled tick started, per `app/job` (a tick twice is a violation). */
  started: Map<string, number[]>;
  /** Quiescence: recycle ticks are counted, not acted on, so the world can settle. */
  healing: boolean;
}

/** Start a scenario's supervisor; every fork is checked against the capacity bound. */
export function startRun(scenario: Scenario): Run {
  const names = scenario.apps.map((_, i) => `app${i}`);
  const config = simConfig(
    scenario.apps.map((app, i) => ({
      name: names[i],
      instances: app.singleton ? 1 : app.instances,
      ...(app.singleton ? { singleton: true } : {}),
      ...(app.maxRequests ? { maxRequests: 100, maxRequestsJitter: 20 } : {}),
      ...(app.recycle ? { recycle: '*/5 * * * * *' } : {}),
      ...(app.job ? { jobs: [simJob(app.job)] } : {}),
      readyWhen: app.readyWhen,
      reloadBatch: app.reloadBatch,
      killTimeout: '1s',
      listenTimeout: '2s',
      restart: { delay: '100ms', maxDelay: '2s', minUptime: '3s', ...(app.maxRestarts !== null ? { maxRestarts: app.maxRestarts } : {}), ...(app.stopExitCodes ? { stopExitCodes: [42] } : {}) },
      ...(app.heartbeat ? { heartbeatTimeout: '1s' } : {}),
      ...(app.maxMemory ? { maxMemory: '100MB' } : {}),
      env: { CODE: 'good', ...(app.twoPorts ? { PORTS: '2' } : {}) },
    })),
  );
  const sim = startSim(config, { start: false });
  const run: Run = { sim, names, answers: [], stopped: false, violations: [], done: new Map(), started: new Map(), healing: false };
  const forksAt = new Map<string, number[]>();
  sim.cluster.onFork = (request) => {
    const app = sim.model.apps.get(request.app.name)!;
    // (a) A singleton never forks while one of its processes lives (the new worker is already in the table).
    const liveOfApp = sim.cluster.live().filter((p) => p.request.app.name === app.name).length;
    if (app.config.singleton && liveOfApp > 0) run.violations.push(`fork of singleton ${app.name}:${request.slot} while ${liveOfApp} of its processes live`);
    if (app.workers.length > capacity(app)) run.violations.push(`fork of ${app.name}:${request.slot} with ${app.workers.length} workers, bound ${capacity(app)}`);
    if (run.done.get(`${app.name}:${request.slot}`) === request.generation) run.violations.push(`fork of ${app.name}:${request.slot} in generation ${request.generation}, whose worker exited with a stop exit code`);
    // Never spins: with restart.delay 100 ms, a slot forks a few times a second at the most.
    const key = `${app.name}:${request.slot}`;
    const now = sim.clock.now();
    const recent = (forksAt.get(key) ?? []).filter((at) => at > now - 1000);
    recent.push(now);
    forksAt.set(key, recent);
    if (recent.length > SPIN_FORKS) run.violations.push(`${key} forked ${recent.length} times within 1 s: a crash loop spins`);
  };
  sim.jobs.onStart = ({ app, run: jobRun }) => {
    const model = sim.model.apps.get(app.name);
    if (sim.model.stopping !== null || !model || model.op?.kind === 'stop') run.violations.push(`job ${app.name}/${jobRun.job} started while stopping`);
    const others = sim.jobs.live().filter((p) => p.app === app.name && p.run.job === jobRun.job);
    if (others.length > 0) run.violations.push(`job ${app.name}/${jobRun.job} started while its run ${others[0]!.pid} lives`);
    if (jobRun.tick === null) return;
    const key = `${app.name}/${jobRun.job}`;
    const ticks = run.started.get(key) ?? [];
    if (ticks.includes(jobRun.tick)) run.violations.push(`job ${key} started twice for tick ${jobRun.tick}`);
    ticks.push(jobRun.tick);
    run.started.set(key, ticks);
  };
  // Like start.ts: a recycle tick is a rolling reload onto the serving config.
  sim.supervisor.onRecycle((app) => {
    if (sim.model.stopping !== null || app.op?.kind === 'stop') run.violations.push(`${app.name}: recycle tick while stopping`);
    if (run.healing) return;
    const entry = { what: `recycle ${app.name}`, count: 0 };
    run.answers.push(entry);
    void sim.supervisor.reloadApp(app.name, app.config, 'recycle').then(() => void entry.count++);
  });
  sim.supervisor.start();
  return run;
}

/** The scenario's job as config: every second; its fake process reads DURATION and IGNORE_TERM from its env. */
function simJob(job: ScenarioJob): Record<string, unknown> {
  return {
    name: 'tick',
    schedule: '* * * * * *',
    script: './http-ok.js',
    overlap: job.overlap,
    ...(job.timeout ? { timeout: job.timeout } : {}),
    env: { DURATION: String(job.duration), ...(job.ignoreTerm ? { IGNORE_TERM: '1' } : {}) },
  };
}

// Forks of one slot within a second of simulated time above which the core is spinning.
const SPIN_FORKS = 15;

/** Serving slots plus the incoming generation of a surging reload: 2 × desired for a plain reload. */
function capacity(app: AppModel): number {
  return app.slots.length + (app.reload?.phase === 'surge' ? app.reload.config.instances : app.slots.length);
}

/** Apply one action, then check the invariants that hold after every step. */
export function step(run: Run, action: Action): void {
  const { sim } = run;
  const live = sim.cluster.live();
  const pick = (n: number) => live[n % Math.max(1, live.length)];
  const answer = (what: string) => {
    const entry = { what, count: 0 };
    run.answers.push(entry);
    return () => void entry.count++;
  };
  const appName = (n: number) => run.names[n % run.names.length]!;
  switch (action.t) {
    case 'advance':
      sim.clock.advance(action.ms);
      break;
    case 'kill': {
      const proc = pick(action.pick);
      if (!proc) break;
      if (action.signal === 'done') {
        const slot = expectDone(run, proc.pid);
        sim.cluster.exit(proc, 42, null);
        if (slot !== null) run.done.set(slot.key, slot.generation);
      } else sim.cluster.exit(proc, action.signal === 'crash' ? 1 : null, action.signal === 'crash' ? null : 'SIGKILL');
      break;
    }
    case 'hang': {
      const proc = pick(action.pick);
      if (proc) proc.hung = true;
      break;
    }
    case 'memory': {
      const proc = pick(action.pick);
      if (proc) sim.supervisor.enqueue({ type: 'usage', rssByPid: new Map([[proc.pid, 500 * 1024 * 1024]]) });
      break;
    }
    case 'env':
      sim.cluster.brokenEnv = action.broken;
      break;
    case 'spawn':
      sim.cluster.spawnFails = action.fails;
      break;
    case 'reload': {
      const name = appName(action.app);
      if (!sim.model.apps.has(name)) break;
      const done = answer(`reload ${name} to ${action.code}`);
      void sim.supervisor.reloadApp(name, sim.withCode(name, action.code), 'sim').then(done);
      break;
    }
    case 'scale':
    case 'restart':
    case 'stop-app': {
      const name = appName(action.app);
      // A scale starts done slots again (in the same generation); a restart forks a new one.
      if (action.t === 'scale') for (const key of [...run.done.keys()]) if (key.startsWith(`${name}:`)) run.done.delete(key);
      const op = action.t === 'stop-app' ? 'stop' : action.t;
      const done = answer(`${op} ${name}`);
      // (c) A singleton is never scaled to anything but 1.
      const refused = action.t === 'scale' && action.to !== 1 && sim.model.apps.get(name)?.config.singleton === true;
      void sim.supervisor.appOp(name, op, action.t === 'scale' ? { to: action.to } : {}).then((result) => {
        if (refused && result.ok) run.violations.push(`singleton ${name} was scaled to ${action.t === 'scale' ? action.to : '?'}: ${result.message}`);
        done();
      });
      break;
    }
    case 'stop':
      run.stopped = true;
      sim.supervisor.enqueue({ type: 'stop', source: 'SIGTERM' });
      break;
    case 'requests': {
      const proc = pick(action.pick);
      if (proc) sim.cluster.serve(proc, action.n);
      break;
    }
    case 'run-job': {
      const name = appName(action.app);
      const entry = { what: `run ${name} job`, count: 0, open: true };
      run.answers.push(entry);
      void sim.supervisor.runJob(name, 'tick').then(() => void entry.count++);
      break;
    }
  }
  sim.clock.advance(1);
  run.violations.push(...checkAlways(run));
}

/** Invariants after every step. */
export function checkAlways(run: Run): string[] {
  const { sim } = run;
  const problems: string[] = [];
  if (sim.cluster.runaway) problems.push('the core forked in a loop without time passing');
  const timer = timerMatchesDeadline(sim);
  if (timer) problems.push(timer);
  if (sim.grep('"event":"supervisor.error"').length > 0) problems.push(`supervisor.error: ${sim.grep('"event":"supervisor.error"')[0]}`);
  const tracked = new Set<number>();
  for (const app of sim.model.apps.values()) {
    const notStopping = app.workers.filter((w) => w.stopReason === null);
    if (notStopping.length > capacity(app)) problems.push(`${app.name}: ${notStopping.length} workers not stopping, bound ${capacity(app)}`);
    const upBySlotGen = new Map<string, number>();
    for (const worker of app.workers) {
      if (worker.pid !== null) tracked.add(worker.pid);
      if (!isUp(worker)) continue;
      const key = `${worker.slot}/${worker.generation}`;
      upBySlotGen.set(key, (upBySlotGen.get(key) ?? 0) + 1);
    }
    for (const [key, count] of upBySlotGen) if (count > 1) problems.push(`${app.name}: ${count} up workers for slot/generation ${key}`);
    // A slot whose worker exited with a stop exit code has no worker and no scheduled restart in that generation.
    app.slots.forEach((slot, index) => {
      if (run.done.get(`${app.name}:${index}`) !== app.generation) return;
      const workers = app.workers.filter((w) => w.slot === index && w.generation === app.generation && w.stopReason === null);
      if (workers.length > 0 || slot.retryAt !== null) problems.push(`${app.name} slot ${index} exited with a stop exit code, but has ${workers.length} workers, retryAt ${slot.retryAt}`);
    });
    const drainingApp = sim.model.stopping !== null || (app.op !== null && (app.op.kind === 'stop' || app.op.phase === 'stopping'));
    if (!drainingApp) {
      app.slots.forEach((slot, index) => {
        const covering = app.workers.filter((w) => w.slot === index && w.generation === app.generation && w.stopReason === null);
        const held = (covering.length > 0 ? 1 : 0) + (slot.retryAt !== null ? 1 : 0) + (slot.halted ? 1 : 0) + (slot.doneWith !== null ? 1 : 0);
        if (held !== 1) problems.push(`${app.name} slot ${index}: ${covering.length} workers, retryAt ${slot.retryAt}, halted ${slot.halted}, done ${slot.doneWith}`);
        if (covering.length > 2 || (covering.length === 2 && !covering.some((w) => covering.some((o) => o.replaces === w.key)))) {
          problems.push(`${app.name} slot ${index}: ${covering.length} covering workers that are not a replacement pair`);
        }
      });
    }
  }
  // Every live process is in the table, and every worker of the table with a pid is alive.
  for (const proc of sim.cluster.live()) if (!tracked.has(proc.pid)) problems.push(`process ${proc.pid} is alive but not in the table`);
  for (const answer of run.answers) if (answer.count > 1) problems.push(`${answer.what} answered ${answer.count} times`);
  problems.push(...checkSingletons(run), ...checkJobs(run));
  return problems;
}

// (b) A singleton app never has two processes alive, nor two workers in its table.
function checkSingletons(run: Run): string[] {
  const problems: string[] = [];
  for (const app of run.sim.model.apps.values()) {
    if (!app.config.singleton) continue;
    const live = run.sim.cluster.live().filter((p) => p.request.app.name === app.name).length;
    if (live > 1 || app.workers.length > 1) problems.push(`singleton ${app.name}: ${live} live processes, ${app.workers.length} workers in the table`);
  }
  return problems;
}

/**
 * Exactly once per tick: every tick of the job's schedule from the start up to its next tick was
 * started, skipped, queued or reported missed, exactly once; at most one run lives per job.
 */
function checkJobs(run: Run): string[] {
  const { sim } = run;
  const problems: string[] = [];
  const live = new Map<string, number>();
  for (const proc of sim.jobs.live()) live.set(`${proc.app}/${proc.run.job}`, (live.get(`${proc.app}/${proc.run.job}`) ?? 0) + 1);
  for (const [key, count] of live) if (count > 1) problems.push(`job ${key}: ${count} runs alive`);
  if (sim.model.stopping !== null) return problems;
  const logs = sim.logs();
  for (const app of sim.model.apps.values()) {
    if (app.op?.kind === 'stop') continue;
    for (const job of app.scheduled.jobs) {
      if (job.nextTick === null || job.removed) continue;
      const key = `${app.name}/${job.config.name}`;
      const seen = new Map<number, string>();
      const note = (tick: number, how: string) => {
        if (seen.has(tick)) problems.push(`job ${key}: tick ${tick} ${how}, and ${seen.get(tick)} before`);
        seen.set(tick, how);
      };
      for (const tick of run.started.get(key) ?? []) note(tick, 'started');
      for (const entry of job.queue) if (entry.tick !== null) note(entry.tick, 'queued');
      const missed: Array<[number, number]> = [];
      for (const line of logs) {
        if (line.app !== app.name || line.job !== job.config.name) continue;
        if (line.event === 'job.skipped' && Array.isArray(line.ticks)) for (const t of line.ticks) note(toMs(t), 'skipped');
        if (line.event === 'job.missed') missed.push([toMs(line.from), toMs(line.to)]);
      }
      // Every second from the first tick after the start to the one before the next tick (the schedule is '* * * * * *').
      const first = Math.floor(sim.supervisor.startedAt.getTime() / 1000) * 1000 + 1000;
      for (let tick = first; tick < job.nextTick; tick += 1000) {
        if (!seen.has(tick) && !missed.some(([from, to]) => tick >= from && tick <= to)) problems.push(`job ${key}: tick ${tick} was neither started, skipped, queued nor missed`);
      }
    }
  }
  return problems;
}

function toMs(value: unknown): number {
  return typeof value === 'number' ? value : Date.parse(String(value));
}

/** Heal the world, let time pass, and check where it settles. */
export async function checkQuiescence(run: Run): Promise<string[]> {
  const { sim } = run;
  sim.cluster.brokenEnv = false;
  sim.cluster.spawnFails = false;
  sim.jobs.startFails = false;
  run.healing = true;
  // A hung worker stays hung: it is replaced (with heartbeatTimeout) or SIGKILLed when it is stopped.
  for (let i = 0; i < 40; i++) sim.clock.advance(1000);
  await new Promise((resolve) => setImmediate(resolve));
  const problems = checkAlways(run);
  for (const answer of run.answers) if (answer.count !== 1 && !(answer.open && !run.stopped && answer.count === 0)) problems.push(`${answer.what} answered ${answer.count} times`);
  if (run.stopped) {
    if (sim.exitCode !== 0) problems.push(`stopped, but exit code ${sim.exitCode}`);
    if (sim.cluster.live().length > 0) problems.push(`stopped, but ${sim.cluster.live().length} processes alive`);
    if (sim.jobs.live().length > 0) problems.push(`stopped, but ${sim.jobs.live().length} job processes alive`);
    if (sim.clock.coreTimers().length > 0) problems.push('stopped, but a core timer is armed');
    return problems;
  }
  for (const app of sim.model.apps.values()) {
    if (app.reload || app.op) problems.push(`${app.name}: ${app.reload ? 'reload' : app.op?.kind} still running`);
    app.slots.forEach((slot, index) => {
      if (!slot.halted && slot.doneWith === null && !sim.supervisor.upSlots(app).has(index)) problems.push(`${app.name} slot ${index} is not up (retryAt ${slot.retryAt})`);
    });
    if (app.workers.some((w) => w.generation !== app.generation)) problems.push(`${app.name}: workers of an old generation are left`);
    const live = app.slots.filter((s) => s.doneWith === null);
    const expected = live.length === 0 ? 'stopped' : live.some((s) => s.halted) ? 'errored' : 'running';
    if (app.state !== expected) problems.push(`${app.name}: state ${app.state}, expected ${expected}`);
  }
  return problems;
}

/**
 * Whether the core must take this process's exit with code 42 as done: its app has stopExitCodes,
 * and it is the one worker of its slot in the serving generation, not told to stop, not a
 * replacement, with no stop of the app or the supervisor under way. Returns the slot, or null.
 */
function expectDone(run: Run, pid: number): { key: string; generation: number } | null {
  const { model } = run.sim;
  for (const app of model.apps.values()) {
    const worker = app.workers.find((w) => w.pid === pid);
    if (!worker) continue;
    if (!worker.config.restart.stopExitCodes.includes(42) || model.stopping !== null || app.op !== null) return null;
    if (worker.stopReason !== null || worker.replaces !== null || worker.generation !== app.generation) return null;
    const covering = app.workers.filter((w) => w.slot === worker.slot && w.generation === app.generation && w.stopReason === null);
    return covering.length === 1 ? { key: `${app.name}:${worker.slot}`, generation: worker.generation } : null;
  }
  return null;
}

/** Run a whole sequence; returns every violation found. */
export async function simulate(scenario: Scenario, actions: readonly Action[]): Promise<string[]> {
  const run = startRun(scenario);
  for (const action of actions) {
    step(run, action);
    if (run.violations.length > 0) return run.violations.map((v) => `after ${JSON.stringify(action)}: ${v}`);
  }
  return [...run.violations, ...(await checkQuiescence(run))];
}

