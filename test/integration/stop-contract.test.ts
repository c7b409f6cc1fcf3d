// Issue 11: the stop contract inside a worker, on plain node:http apps with their own signal
// listeners (signal-cleanup.js, in several idioms). The app's handler runs once per stop or
// reload, its cleanup completes within killTimeout, its server.close(cb) gets no error, and the
// worker then exits by itself, never by SIGKILL; killSignal picks the listeners; onDrain hooks
// learn why; an app without handlers still exits right after its drain.
import { readFileSync } from 'node:fs';
import { afterAll, describe, it, type ExpectStatic } from 'vitest';
import { freePort } from '../helpers/http.ts';
import { cleanupAll, startNsup, stopNsup, waitGone, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject, type TmpProject } from '../helpers/tmp-project.ts';

// The tests run concurrently (each waits on its app's cleanup timers): none may kill the others'
// processes in an afterEach, so each stops its own in `finally`, and this is the net.
afterAll(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const isReloadEnd = (e: LogLine) => e.event === 'reload.done' || e.event === 'reload.rolled-back';
const at = (line: LogLine) => Date.parse(String(line.time));

interface Run {
  nsup: Nsup;
  project: TmpProject;
  markFile: string;
}

/** Start `script` (a fixture) with -i `instances`, or a config file when `config` is given. */
async function start(opts: { script?: string; env?: Record<string, string>; instances?: number; config?: (port: number, markFile: string) => string }): Promise<Run> {
  const port = await freePort();
  const project = tmpProject();
  const markFile = project.write('marks.txt', '');
  const env = { PORT: String(port), MARK_FILE: markFile, ...opts.env };
  const args = opts.config
    ? ['start', '-c', project.write('supervisor.config.mjs', opts.config(port, markFile))]
    : ['start', `${FIXTURES}${opts.script ?? 'signal-cleanup.js'}`, '-i', String(opts.instances ?? 2), ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`])];
  const nsup = startNsup(args);
  return { nsup, project, markFile };
}

/** SIGHUP; resolves once reload number `n` ended, and checks it did not roll back. */
async function reload(expect: ExpectStatic, nsup: Nsup, n = 1): Promise<LogLine> {
  nsup.proc.kill('SIGHUP');
  const end = (await nsup.waitForCount(isReloadEnd, n, `reload ${n} to end`, 20_000))[n - 1]!;
  expect(end.event, JSON.stringify(end)).toBe('reload.done');
  return end;
}

/** The steps the fixture recorded, per pid: `{ step, at }` in order. */
function marks(markFile: string): Map<number, Array<{ step: string; at: number }>> {
  const byPid = new Map<number, Array<{ step: string; at: number }>>();
  for (const line of readFileSync(markFile, 'utf8').split('\n').filter(Boolean)) {
    const [step, pid, time] = line.split(' ');
    const list = byPid.get(Number(pid)) ?? [];
    list.push({ step: step!, at: Number(time) });
    byPid.set(Number(pid), list);
  }
  return byPid;
}

/** The worker.exit line of every pid; none of them SIGKILLed, and no worker.kill at all. */
async function exitsOf(expect: ExpectStatic, nsup: Nsup, pids: number[]): Promise<Map<number, LogLine>> {
  const exits = await Promise.all(pids.map((pid) => nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === pid, `worker ${pid} to exit`, 15_000)));
  for (const exit of exits) expect(exit.signal, JSON.stringify(exit)).not.toBe('SIGKILL');
  expect(nsup.events.filter((e) => e.event === 'worker.kill')).toEqual([]);
  return new Map(exits.map((e) => [e.pid as number, e]));
}

/** Each pid ran the handler once, closed its server without error, and finished its cleanup; returns the cleanup ends. */
function expectCleanedOnce(expect: ExpectStatic, markFile: string, pids: number[], cleanupMs: number): Map<number, number> {
  const all = marks(markFile);
  const cleaned = new Map<number, number>();
  for (const pid of pids) {
    const steps = all.get(pid) ?? [];
    expect(steps.map((s) => s.step), `steps of ${pid}`).toEqual(['handler', 'closed', 'cleaned']);
    expect(steps[2]!.at - steps[0]!.at).toBeGreaterThanOrEqual(cleanupMs - 50);
    cleaned.set(pid, steps[2]!.at);
  }
  return cleaned;
}

describe('the app\'s own SIGTERM listener runs as step 3 of every drain', () => {
  // callback: `server.close(() => cleanup())`, the process ends once its loop is empty (nsup
  // disconnects it); async: nsup awaits the listener's promise, then exits.
  for (const style of ['callback', 'async'] as const) {
    it.concurrent(`${style} idiom: on a reload and on a stop it runs once per worker, its 4 s cleanup completes within the default 5 s killTimeout, server.close(cb) gets no error`, async ({ expect }) => {
      const run = await start({ env: { STYLE: style, CLEANUP_MS: '4000' } });
      try {
        await run.nsup.waitForCount(listening, 2, 'two listening workers');
        const first = run.nsup.listeningPids();
        await reload(expect, run.nsup);
        const second = run.nsup.listeningPids();
        expect(await stopNsup(run.nsup)).toBe(0);
        const pids = [...first, ...second];
        const cleaned = expectCleanedOnce(expect, run.markFile, pids, 4000);
        const exits = await exitsOf(expect, run.nsup, pids);
        for (const pid of pids) {
          expect(exits.get(pid)!.code).toBe(0);
          // Gone right after its cleanup, not held until killTimeout.
          expect(at(exits.get(pid)!) - cleaned.get(pid)!).toBeLessThan(900);
        }
      } finally {
        await stopNsup(run.nsup).catch(() => undefined);
        run.project.dispose();
      }
    });
  }

  it.concurrent('an async listener ending in process.exit(0), and a once() listener re-sending the signal to itself (NestJS) while a timer keeps the loop alive: each worker exits right after its cleanup', async ({ expect }) => {
    const runs = await Promise.all((['exit', 'resend'] as const).map((style) => start({ env: { STYLE: style, CLEANUP_MS: '1000' }, instances: 1 })));
    try {
      await Promise.all(runs.map((run) => run.nsup.waitFor(listening, 'a listening worker')));
      const pids = runs.map((run) => run.nsup.listeningPids());
      await Promise.all(runs.map((run) => stopNsup(run.nsup)));
      for (const [i, run] of runs.entries()) {
        const cleaned = expectCleanedOnce(expect, run.markFile, pids[i]!, 1000);
        const exit = (await exitsOf(expect, run.nsup, pids[i]!)).get(pids[i]![0]!)!;
        // resend: the default action of the re-sent signal ends the process.
        expect(i === 0 ? exit.code : exit.signal, JSON.stringify(exit)).toBe(i === 0 ? 0 : 'SIGTERM');
        expect(at(exit) - cleaned.get(pids[i]![0]!)!).toBeLessThan(900);
      }
    } finally {
      for (const run of runs) {
        await stopNsup(run.nsup).catch(() => undefined);
        run.project.dispose();
      }
    }
  });

  it.concurrent('a SIGTERM to a worker and to the primary at once (systemd KillMode=control-group) runs the handler once', async ({ expect }) => {
    const run = await start({ env: { STYLE: 'async', CLEANUP_MS: '1000' }, instances: 1 });
    try {
      await run.nsup.waitFor(listening, 'a listening worker');
      const [pid] = run.nsup.listeningPids();
      process.kill(pid!, 'SIGTERM');
      expect(await stopNsup(run.nsup)).toBe(0);
      expectCleanedOnce(expect, run.markFile, [pid!], 1000);
      await exitsOf(expect, run.nsup, [pid!]);
    } finally {
      await stopNsup(run.nsup).catch(() => undefined);
      run.project.dispose();
    }
  });
});

describe('killSignal, onDrain, apps without handlers', () => {
  it.concurrent("killSignal 'SIGINT': the app's SIGINT listener runs on a reload and a stop; a SIGTERM listener does not", async ({ expect }) => {
    const app = (name: string, signal: string, port: number, markFile: string) =>
      `{ name: '${name}', script: ${JSON.stringify(`${FIXTURES}signal-cleanup.js`)}, instances: 1, killSignal: 'SIGINT', env: { PORT: '${port}', MARK_FILE: ${JSON.stringify(markFile)}, SIGNAL: '${signal}', STYLE: 'async', CLEANUP_MS: '1000' } }`;
    const other = await freePort();
    const run = await start({ config: (port, markFile) => `export default { apps: [${app('int', 'SIGINT', port, markFile)}, ${app('term', 'SIGTERM', other, markFile)}] };` });
    try {
      await run.nsup.waitForCount(listening, 2, 'both apps listening');
      const pidsOf = (name: string) => run.nsup.events.filter((e) => listening(e) && e.app === name).map((e) => e.pid as number);
      run.nsup.proc.kill('SIGHUP');
      const ends = await run.nsup.waitForCount(isReloadEnd, 2, 'both reloads to end', 20_000);
      expect(ends.map((e) => e.event)).toEqual(['reload.done', 'reload.done']);
      expect(await stopNsup(run.nsup)).toBe(0);
      expectCleanedOnce(expect, run.markFile, pidsOf('int'), 1000);
      expect(pidsOf('int')).toHaveLength(2);
      const term = pidsOf('term');
      expect(term).toHaveLength(2);
      for (const pid of term) expect(marks(run.markFile).get(pid)).toBeUndefined();
      await exitsOf(expect, run.nsup, [...pidsOf('int'), ...term]);
    } finally {
      await stopNsup(run.nsup).catch(() => undefined);
      run.project.dispose();
    }
  });

  it.concurrent("onDrain hooks get the reason: 'reload', 'scale' (SIGTTOU), 'stop'", async ({ expect }) => {
    const run = await start({ script: 'drain-reason.js', instances: 2 });
    try {
      await run.nsup.waitForCount(listening, 2, 'two listening workers');
      const first = run.nsup.listeningPids();
      await reload(expect, run.nsup);
      await exitsOf(expect, run.nsup, first);
      const second = run.nsup.listeningPids();
      run.nsup.proc.kill('SIGTTOU');
      const scaled = await run.nsup.waitFor((e) => e.event === 'worker.exit' && second.includes(e.pid as number), 'a worker to scale away');
      expect(await stopNsup(run.nsup)).toBe(0);
      const last = second.filter((pid) => pid !== scaled.pid);
      const reasons = marks(run.markFile);
      for (const pid of first) expect(reasons.get(pid)?.map((s) => s.step)).toEqual(['drain:reload']);
      expect(reasons.get(scaled.pid as number)?.map((s) => s.step)).toEqual(['drain:scale']);
      for (const pid of last) expect(reasons.get(pid)?.map((s) => s.step)).toEqual(['drain:stop']);
    } finally {
      await stopNsup(run.nsup).catch(() => undefined);
      run.project.dispose();
    }
  });

  it.concurrent('an app without handlers exits right after its drain, on a reload and on a stop', async ({ expect }) => {
    const run = await start({ script: 'http-ok.js', instances: 2 });
    try {
      await run.nsup.waitForCount(listening, 2, 'two listening workers');
      const first = run.nsup.listeningPids();
      await reload(expect, run.nsup);
      const second = run.nsup.listeningPids();
      expect(await stopNsup(run.nsup)).toBe(0);
      const exits = await exitsOf(expect, run.nsup, [...first, ...second]);
      for (const pid of [...first, ...second]) {
        const stopping = run.nsup.events.find((e) => e.event === 'worker.state' && e.pid === pid && e.to === 'stopping')!;
        // Nothing to drain: gone at once, far from the 5 s killTimeout (bound loose for loaded machines).
        expect(at(exits.get(pid)!) - at(stopping)).toBeLessThan(1000);
        expect(exits.get(pid)!.code).toBe(0);
      }
    } finally {
      await stopNsup(run.nsup).catch(() => undefined);
      run.project.dispose();
    }
  });

  it.concurrent("a synchronous listener that leaves a timer running: SIGKILL at killTimeout, and the log says what kept the worker alive", async ({ expect }) => {
    const run = await start({ script: 'sync-handler-timer.js', instances: 1, env: {} });
    try {
      await run.nsup.waitForCount(listening, 1, 'a listening worker');
      const [pid] = run.nsup.listeningPids();
      const stopped = stopNsup(run.nsup);
      const kill = await run.nsup.waitFor((e) => e.event === 'worker.kill' && e.pid === pid, 'the SIGKILL at killTimeout', 10_000);
      expect(kill.shutdownDone).toBe(true);
      expect(kill.msg).toMatch(/ran its shutdown code, but its process did not end within 5\.0s: something keeps its event loop alive .*end the app's SIGTERM listener with process\.exit\(\)/);
      await run.nsup.waitForOutput((line) => line.includes('nsup: the app\'s shutdown listener returned, but the process is still running: its event loop holds a timer (setTimeout/setInterval)'), 'the worker saying what holds it');
      expect(run.nsup.stdout.some((line) => line.includes(`server closed ${pid}`))).toBe(true);
      expect(await stopped).toBe(0);
    } finally {
      await stopNsup(run.nsup).catch(() => undefined);
      run.project.dispose();
    }
  });

  it.concurrent('a worker left to end by itself still ends when its primary is SIGKILLed meanwhile (it no longer has the IPC channel that would tell it)', async ({ expect }) => {
    const run = await start({ config: (port) => `export default { apps: [{ name: 'timer', script: '${FIXTURES}sync-handler-timer.js', instances: 1, killTimeout: '2s', env: { PORT: '${port}' } }] };` });
    try {
      await run.nsup.waitForCount(listening, 1, 'a listening worker');
      const [pid] = run.nsup.listeningPids();
      run.nsup.proc.kill('SIGTERM');
      await run.nsup.waitForOutput((line) => line.includes(`server closed ${pid}`), "the app's listener ran");
      run.nsup.proc.kill('SIGKILL');
      await run.nsup.exited;
      // killTimeout (2 s) plus a second: no primary is left to SIGKILL it, so it ends itself.
      expect(await waitGone([pid!], 6000)).toEqual([]);
    } finally {
      run.project.dispose();
    }
  });
});
