// Issue 11: an unmodified app's own shutdown code runs under nsup. Express, Fastify, Koa and
// NestJS fixtures, each in its framework's documented idiom (a SIGTERM listener, an onClose hook,
// enableShutdownHooks with lifecycle hooks), record every shutdown step in MARK_FILE: on a reload
// and on a stop, each old worker's handler runs exactly once, its async cleanup (1.5 s) completes,
// and 10 slow requests in flight when it began all get their 200.
import { execa, type ResultPromise } from 'execa';
import { readFileSync } from 'node:fs';
import { afterAll, describe, it, type ExpectStatic } from 'vitest';
import { freePort, get, getJson } from '../helpers/http.ts';
import { running } from '../helpers/processes.ts';
import { cleanupAll, startNsup, stopNsup, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

// The tests run concurrently (each one waits on timers in its own supervisor), so none may kill
// the others' processes in an afterEach: each one stops its own in `finally`, and this is the net.
afterAll(cleanupAll);

const FRAMEWORKS = [
  { framework: 'express', script: 'express-shutdown.js' },
  { framework: 'fastify', script: 'fastify-shutdown.js' },
  { framework: 'koa', script: 'koa-shutdown.js' },
  { framework: 'nest', script: 'nest-shutdown.js' },
];

const IN_FLIGHT = 10;
const SLOW_MS = 2000;

/** The ways a foreground nsup is stopped: `group` ones signal its whole process group. */
const STOPS = [
  { name: 'SIGTERM to the primary', group: false, send: (nsup: Nsup) => nsup.proc.kill('SIGTERM') },
  // Ctrl-C: the terminal sends SIGINT to every process of the foreground group, workers included,
  // so each worker gets the signal itself as well as the primary's drain request.
  { name: 'Ctrl-C (SIGINT to the process group)', group: true, send: (nsup: Nsup) => process.kill(-nsup.proc.pid!, 'SIGINT') },
];

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';

/** One supervisor running a fixture with `-i 2`, and where its workers record their shutdown. */
interface Run {
  nsup: Nsup;
  port: number;
  project: TmpProject;
  markFile: string;
  /** The pids of the first two workers, once both listen. */
  first: number[];
}

async function start(script: string, opts: { detached?: boolean; env?: string[] } = {}): Promise<Run> {
  const port = await freePort();
  const project = tmpProject();
  const markFile = project.write('marks.txt', '');
  const env = [`PORT=${port}`, `MARK_FILE=${markFile}`, ...(opts.env ?? [])].flatMap((pair) => ['--env', pair]);
  // detached: nsup leads its own process group, so a test can signal the group as a terminal does.
  const nsup = startNsup(['start', `${FIXTURES}${script}`, '-i', '2', ...env], { detached: opts.detached ?? false });
  await nsup.waitForCount(listening, 2, 'two listening workers', 20_000);
  return { nsup, port, project, markFile, first: nsup.listeningPids().sort() };
}

/** Start IN_FLIGHT slow requests on fresh connections; resolves once every one reached a worker. */
async function slowRequests(run: Run): Promise<Promise<{ status: number; body: string }>[]> {
  const started = () => run.nsup.stdout.filter((line) => line.includes('slow request started on')).length;
  const before = started();
  const requests = Array.from({ length: IN_FLIGHT }, () => get(run.port, `/slow?ms=${SLOW_MS}`, { timeoutMs: 15_000 }));
  // The predicate ignores the line it is given: it counts every line so far, on each new one.
  await run.nsup.waitForOutput(() => started() >= before + IN_FLIGHT, `${IN_FLIGHT} slow requests to start`, 10_000);
  return requests;
}

/** Every in-flight request answered 200 from one of `pids`. */
async function expectAnswered(expect: ExpectStatic, requests: Promise<{ status: number; body: string }>[], pids: number[]): Promise<void> {
  const answers = await Promise.all(requests.map((r) => r.catch((error: Error) => ({ status: 0, body: error.message }))));
  expect(answers.map((a) => a.status), JSON.stringify(answers)).toEqual(answers.map(() => 200));
  for (const a of answers) expect(pids).toContain((JSON.parse(a.body) as { pid: number }).pid);
}

/** Each worker exited on its own (not SIGKILLed at killTimeout); resolves with their exit lines. */
async function expectExitedCleanly(expect: ExpectStatic, nsup: Nsup, pids: number[]): Promise<LogLine[]> {
  const exits = await Promise.all(pids.map((pid) => nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === pid, `worker ${pid} to exit`, 15_000)));
  for (const exit of exits) expect(exit.signal, JSON.stringify(exit)).not.toBe('SIGKILL');
  return exits;
}

/** The shutdown steps the fixtures recorded: `<step> <pid> <epoch ms>` lines. */
function marks(markFile: string): Array<{ step: string; pid: number; at: number }> {
  return readFileSync(markFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [step, pid, at] = line.split(' ');
      return { step: step!, pid: Number(pid), at: Number(at) };
    });
}

/** MARK_FILE holds, for each of `pids`, exactly one `handler` and then one `cleaned` line, and nothing else. */
function expectShutdownRan(expect: ExpectStatic, markFile: string, pids: number[]): void {
  const all = marks(markFile);
  const every = all.map((m) => `${m.step} ${m.pid}`).join('\n');
  for (const pid of pids) expect(all.filter((m) => m.pid === pid).map((m) => m.step), `shutdown steps of worker ${pid}; every line:\n${every}`).toEqual(['handler', 'cleaned']);
}

/** The primary's exit code, once it exited (bounded). */
async function exitCode(nsup: Nsup, timeoutMs: number): Promise<number | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nsup did not exit within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return (await Promise.race([nsup.exited, timeout])).code;
  } finally {
    clearTimeout(timer);
  }
}

/** Stop the supervisor if the test left it running (a failed assertion), bounded; kills on timeout. */
async function finish(run: Run | undefined): Promise<void> {
  if (!run) return;
  try {
    const child = run.nsup.proc.nodeChildProcess;
    if (child.exitCode === null && child.signalCode === null) await stopNsup(run.nsup, 10_000).catch(() => undefined);
  } finally {
    run.project.dispose();
  }
}

describe.concurrent.each(FRAMEWORKS)('$framework: the app’s own shutdown code', ({ script }) => {
  it('runs once per old worker on a reload, its async cleanup completes, and in-flight requests finish', async ({ expect }) => {
    let run: Run | undefined;
    try {
      run = await start(script);
      const requests = await slowRequests(run);
      run.nsup.proc.kill('SIGHUP');
      const end = await run.nsup.waitFor(isReloadEnd, 'the reload to end', 30_000);
      expect(end.event, JSON.stringify(end)).toBe('reload.done');
      await expectAnswered(expect, requests, run.first);
      await expectExitedCleanly(expect, run.nsup, run.first);
      expectShutdownRan(expect, run.markFile, run.first);
      // The new generation serves.
      const now = run.nsup.listeningPids().sort();
      expect(now).toHaveLength(2);
      for (const pid of run.first) expect(now).not.toContain(pid);
      expect(now).toContain((await getJson(run.port)).pid);
      // The new generation's code runs on the stop that follows, as the first one's did.
      expect(await stopNsup(run.nsup)).toBe(0);
      expectShutdownRan(expect, run.markFile, [...run.first, ...now]);
    } finally {
      await finish(run);
    }
  });

  for (const stop of STOPS) {
    it(`runs once per worker on a stop by ${stop.name}, its async cleanup completes, in-flight requests finish, and nothing is left`, async ({ expect }) => {
      let run: Run | undefined;
      try {
        run = await start(script, { detached: stop.group });
        const requests = await slowRequests(run);
        stop.send(run.nsup);
        const code = await exitCode(run.nsup, 15_000);
        await expectAnswered(expect, requests, run.first);
        expect(code).toBe(0);
        await expectExitedCleanly(expect, run.nsup, run.first);
        expectShutdownRan(expect, run.markFile, run.first);
        expect(run.nsup.events.filter((e) => e.event === 'supervisor.stopped')).toHaveLength(1);
        // The primary reaped every worker before it exited: none may outlive it.
        expect(run.nsup.workerPids().filter(running)).toEqual([]);
      } finally {
        await finish(run);
      }
    });
  }

  // The same code under plain `node`: the fixture is an ordinary app, and this is what its
  // shutdown does without nsup (the baseline the two tests above hold nsup to).
  it('does the same under plain node on SIGTERM', async ({ expect }) => {
    const port = await freePort();
    const project = tmpProject();
    const markFile = project.write('marks.txt', '');
    const child = execa(process.execPath, [`${FIXTURES}${script}`], { env: { PORT: String(port), MARK_FILE: markFile }, reject: false, stdin: 'ignore', buffer: false });
    try {
      const output = outputOf(child);
      await output.waitFor('listening on', 10_000);
      const request = get(port, `/slow?ms=${SLOW_MS}`, { timeoutMs: 15_000 });
      await output.waitFor('slow request started on', 5000);
      child.kill('SIGTERM');
      expect((await request).status).toBe(200);
      const result = await child;
      // Nest re-raises the signal once its hooks are done; the others exit 0.
      expect(result.exitCode === 0 || result.signal === 'SIGTERM', `exit ${result.exitCode} ${result.signal}`).toBe(true);
      expectShutdownRan(expect, markFile, [child.pid!]);
    } finally {
      child.kill('SIGKILL');
      await child;
      project.dispose();
    }
  });
});

// With no arguments Nest's enableShutdownHooks() also listens to SIGHUP, nsup's reload signal: a
// SIGHUP to the whole process group (a closed terminal) used to shut Nest down inside every serving
// worker at once. Workers keep SIGHUP from the app, so it is a reload, with either signal list.
describe.concurrent.each([
  { signals: 'default (every signal, SIGHUP too)', env: [] as string[] },
  { signals: '[SIGTERM, SIGINT]', env: ['SHUTDOWN_SIGNALS=SIGTERM,SIGINT'] },
])('nest with enableShutdownHooks($signals)', ({ env }) => {
  it('treats a SIGHUP to the whole process group as a reload: each old worker runs its hooks once, at its drain', async ({ expect }) => {
    let run: Run | undefined;
    try {
      run = await start('nest-shutdown.js', { detached: true, env });
      const requests = await slowRequests(run);
      process.kill(-run.nsup.proc.pid!, 'SIGHUP');
      const end = await run.nsup.waitFor(isReloadEnd, 'the reload to end', 30_000);
      expect(end.event, JSON.stringify(end)).toBe('reload.done');
      await expectAnswered(expect, requests, run.first);
      await expectExitedCleanly(expect, run.nsup, run.first);
      expectShutdownRan(expect, run.markFile, run.first);
      expect(await stopNsup(run.nsup)).toBe(0);
    } finally {
      await finish(run);
    }
  });
});

/** A child's stdout so far, and a bounded wait for a text in it. */
function outputOf(child: ResultPromise): { waitFor(text: string, timeoutMs: number): Promise<void> } {
  let output = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters) waiter();
  });
  return {
    waitFor: (text, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs}ms waiting for "${text}"; output:\n${output}`));
        }, timeoutMs);
        const check = () => {
          if (!output.includes(text)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}
