// Issue 2: crashed workers come back; crash loops back off, never kill the supervisor, and recover.
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get, getJson } from '../helpers/http.ts';
import { cleanupAll, isAlive, startNsup, stopNsup, waitGone, type LogLine } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject } from '../helpers/tmp-project.ts';

afterEach(cleanupAll);

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';

describe('crash restarts', () => {
  it('a connection on its way to a worker that dies is served by another worker, not held open', async () => {
    // node:cluster's primary keeps its copy of a socket it hands to a worker until the worker
    // answers; a worker that exits before it read the hand-off never answers, and raw cluster
    // holds the connection open forever (src/worker/handoffs.ts).
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}freeze-then-exit.js`, '-i', '2', '--env', `PORT=${port}`]);
    await nsup.waitForCount(listening, 2, 'two listening workers');
    const frozen = Number((await get(port, '/freeze')).body);
    // The frozen worker is free in round-robin again: each new connection goes to one of the two,
    // and the one handed to the frozen worker waits in its unread IPC channel until it exits.
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(port, '/', { timeoutMs: 5000 }).then((r) => r, (error: Error) => error)));
    expect(answers.map((a) => (a instanceof Error ? a.message : a.status))).toEqual([200, 200, 200, 200, 200, 200]);
    expect(answers.map((a) => Number((a as { body: string }).body)).filter((pid) => pid === frozen)).toEqual([]);
    const exit = await nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === frozen, 'exit of the frozen worker');
    expect(exit.code).toBe(1);
    expect(await stopNsup(nsup)).toBe(0);
  });

  it('replaces a SIGKILLed worker in the same slot, at once once it was up for minUptime', async () => {
    const port = await freePort();
    const project = tmpProject();
    const script = project.fixture('http-ok.js');
    const config = project.write(
      'supervisor.config.mjs',
      `export default { apps: [{ name: 'web', script: ${JSON.stringify(script)}, instances: 2, env: { PORT: '${port}' }, restart: { minUptime: '300ms' } }] };`,
    );
    try {
      const nsup = startNsup(['start', '-c', config]);
      await nsup.waitForCount(listening, 2, 'two listening workers');
      // Elapsed time is the point: the worker must be up longer than minUptime (300ms) to count as healthy.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const victim = nsup.events.find((e) => listening(e) && e.worker === 1)!.pid as number;
      const killedAt = Date.now();
      process.kill(victim, 'SIGKILL');
      const exit = await nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === victim, 'exit of the killed worker');
      expect(exit.signal).toBe('SIGKILL');
      expect(exit.reason).toMatch(/killed by SIGKILL/);
      const restart = await nsup.waitFor((e) => e.event === 'worker.restart' && e.worker === 1, 'restart');
      expect(restart.delayMs).toBe(0);
      const back = await nsup.waitFor((e) => listening(e) && e.worker === 1 && e.pid !== victim, 'replacement listening');
      // Capacity is back well within a second (about 40 ms on an idle machine; see bench/ for numbers).
      expect(Date.parse(back.time as string) - killedAt).toBeLessThan(5000);
      const body = await getJson(port);
      expect(body.pid).not.toBe(victim);
      expect(await stopNsup(nsup)).toBe(0);
      expect(await waitGone(nsup.workerPids())).toEqual([]);
    } finally {
      project.dispose();
    }
  });

  it('backs off a crash loop with doubling delays, stays up, reports it, and recovers when the cause goes away', async () => {
    const port = await freePort();
    const project = tmpProject();
    const script = project.fixture('crash-on-boot.js');
    const heal = project.path('healed');
    const config = project.write(
      'supervisor.config.mjs',
      `export default { apps: [{ name: 'flaky', script: ${JSON.stringify(script)}, instances: 1, env: { PORT: '${port}', HEAL_FILE: ${JSON.stringify(heal)} }, restart: { delay: '50ms', maxDelay: '400ms' } }] };`,
    );
    try {
      const nsup = startNsup(['start', '-c', config]);
      const restarts = await nsup.waitForCount((e) => e.event === 'worker.restart', 5, 'five restarts');
      expect(restarts.map((e) => e.delayMs)).toEqual([50, 100, 200, 400, 400]);
      expect(restarts.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5]);
      expect(restarts[3]!.msg).toBe('restarting worker 0 in 400ms (attempt 4); last exit: exited with code 1: Error: cannot boot: database unreachable');
      const loop = await nsup.waitFor((e) => e.event === 'app.state' && e.to === 'crash-loop', 'crash-loop state');
      const failure = loop.lastFailure as { code: number; stderr: string[] };
      expect(failure.code).toBe(1);
      expect(failure.stderr, JSON.stringify(loop)).toContain('fatal: database unreachable (simulated)');
      writeFileSync(heal, '');
      await nsup.waitFor((e) => e.event === 'app.state' && e.to === 'running', 'recovery', 5000);
      expect(typeof (await getJson(port).catch(() => null))).toBe('number');
      expect(await stopNsup(nsup)).toBe(0);
      expect(await waitGone(nsup.workerPids())).toEqual([]);
    } finally {
      project.dispose();
    }
  });

  it('restart.maxRestarts turns a long crash loop into errored, and the supervisor keeps running', async () => {
    const project = tmpProject();
    const script = project.fixture('crash-on-boot.js');
    const config = project.write(
      'supervisor.config.mjs',
      `export default { apps: [{ name: 'doomed', script: ${JSON.stringify(script)}, instances: 1, restart: { delay: '20ms', maxRestarts: 3 } }] };`,
    );
    try {
      const nsup = startNsup(['start', '-c', config]);
      const halted = await nsup.waitFor((e) => e.event === 'worker.halted', 'halted');
      expect(halted.msg).toMatch(/failed to start 4 times in a row \(restart.maxRestarts = 3\)/);
      await nsup.waitFor((e) => e.event === 'app.state' && e.to === 'errored', 'errored');
      expect(nsup.events.filter((e) => e.event === 'worker.restart')).toHaveLength(3);
      expect(isAlive(nsup.proc.pid!)).toBe(true);
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      project.dispose();
    }
  });

  it('explains EADDRINUSE and a syntax error in one line', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const busy = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '1', '--env', `PORT=${port}`]);
      const exit = await busy.waitFor((e) => e.event === 'worker.exit', 'exit');
      expect(exit.reason).toBe(`port ${port} is already in use (EADDRINUSE): stop the process that holds it or give the app another port`);
      expect(await stopNsup(busy)).toBe(0);
    } finally {
      blocker.close();
    }
    const broken = startNsup(['start', `${FIXTURES}syntax-error.js`, '-i', '1']);
    const exit = await broken.waitFor((e) => e.event === 'worker.exit', 'exit');
    expect(exit.reason).toBe(`syntax error in ${FIXTURES}syntax-error.js:3: Unexpected token ';'`);
    expect(await stopNsup(broken)).toBe(0);
  });
});
