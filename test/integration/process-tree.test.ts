// Issue 11: nothing a worker spawned outlives it. After a reload, a stop and a crash, the `sleep`
// children, the shell's grandchild and a child with a scrubbed environment are gone; the primary
// exits only once they are, and at once when there are none.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get } from '../helpers/http.ts';
import { running, startTime, withEnv } from '../helpers/processes.ts';
import { cleanupAll, startNsup, stopNsup, type LogLine, type Nsup } from '../helpers/run-nsup.ts';
import { FIXTURES, tmpProject } from '../helpers/tmp-project.ts';

// The scrubbed children carry no mark that cleanupAll could find them by: killed here if a test left them.
const unmarked: Proc[] = [];
afterEach(async () => {
  for (const proc of unmarked.splice(0)) if (alive(proc)) process.kill(proc.pid, 'SIGKILL');
  await cleanupAll();
});

const listening = (e: LogLine) => e.event === 'worker.state' && e.to === 'listening';
const leftovers = (e: LogLine) => e.event === 'worker.leftovers';

/** One process: pid and start time, so a reused pid never counts. */
interface Proc {
  pid: number;
  start: number | undefined;
}

/** Whether this very process still runs (a zombie waiting for init counts as gone). */
function alive(proc: Proc): boolean {
  return running(proc.pid) && startTime(proc.pid) === proc.start;
}

/** Wait (bounded) until none of these runs; returns those still running. Polls: a foreign pid's death has no event. */
async function gone(procs: Proc[], timeoutMs = 5000): Promise<Proc[]> {
  const deadline = Date.now() + timeoutMs;
  let left = procs.filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    left = left.filter(alive);
  }
  return left;
}

/** Start spawns-children.js under nsup with a private mark in its env (inherited by every child). */
async function start(opts: { instances?: number; killTimeout?: string; shell?: string } = {}) {
  const port = await freePort();
  const mark = randomUUID();
  const project = tmpProject();
  const script = project.fixture('spawns-children.js');
  const env: Record<string, string> = { PORT: String(port), TREE_MARK: mark };
  if (opts.shell) env.SHELL_SCRIPT = opts.shell;
  const config = project.write(
    'supervisor.config.mjs',
    `export default { apps: [{ name: 'tree', script: ${JSON.stringify(script)}, instances: ${opts.instances ?? 2}, env: ${JSON.stringify(env)}, killTimeout: '${opts.killTimeout ?? '5s'}' }] };`,
  );
  const nsup = startNsup(['start', '-c', config]);
  await nsup.waitForCount(listening, opts.instances ?? 2, 'listening workers');
  return { nsup, port, mark, project };
}

/** Every process these workers spawned: those with the mark, and each one's scrubbed child (which it prints). */
async function childrenOf(nsup: Nsup, mark: string, workers: number[]): Promise<Proc[]> {
  const scrubbed: number[] = [];
  for (const pid of workers) {
    const line = await nsup.waitForOutput((l) => l.includes(`worker ${pid} children `), `children of worker ${pid}`);
    scrubbed.push(Number(/scrubbed (\d+)/.exec(line)![1]));
  }
  const others = new Set(nsup.workerPids());
  const marked = withEnv('TREE_MARK', mark).filter((pid) => !others.has(pid));
  const procs = [...marked, ...scrubbed].map((pid) => ({ pid, start: startTime(pid) }));
  unmarked.push(...procs.slice(marked.length));
  return procs;
}

describe('process trees (issue 11)', () => {
  it('a reload leaves none of the old workers\' children, grandchildren or env-scrubbed children running', async () => {
    const { nsup, mark, project } = await start({ instances: 1 });
    try {
      const [first] = nsup.listeningPids();
      const before = await childrenOf(nsup, mark, [first!]);
      // sleep, sh, sh's sleep, and the scrubbed sleep.
      expect(before).toHaveLength(4);
      expect(before.every(alive)).toBe(true);
      nsup.proc.kill('SIGHUP');
      await nsup.waitFor((e) => e.event === 'reload.done', 'reload done', 30_000);
      const line = await nsup.waitFor((e) => leftovers(e) && e.pid === first, 'leftovers of the old worker');
      expect(line.signal).toBe('SIGTERM');
      expect((line.pids as number[]).sort()).toEqual(before.map((p) => p.pid).sort());
      expect(await gone(before)).toEqual([]);
      // The new generation's children run (they are not the old ones).
      const [second] = nsup.listeningPids();
      expect(second).not.toBe(first);
      const now = await childrenOf(nsup, mark, [second!]);
      expect(now.filter(alive)).toHaveLength(4);
      expect(await stopNsup(nsup)).toBe(0);
      expect(now.filter(alive)).toEqual([]);
    } finally {
      project.dispose();
    }
  });

  it('a stop exits 0 only once every child of every worker is gone', async () => {
    const { nsup, mark, project } = await start({ instances: 2 });
    try {
      const children = await childrenOf(nsup, mark, nsup.listeningPids());
      expect(children).toHaveLength(8);
      expect(await stopNsup(nsup)).toBe(0);
      // Checked right at the primary's exit: no wait.
      expect(children.filter(alive)).toEqual([]);
      expect(withEnv('TREE_MARK', mark)).toEqual([]);
      expect(nsup.events.filter(leftovers).every((e) => e.signal === 'SIGTERM')).toBe(true);
    } finally {
      project.dispose();
    }
  });

  it('a worker that crashes (exit 1) or is SIGKILLed leaves nothing behind; its replacement starts its own', async () => {
    const { nsup, port, mark, project } = await start({ instances: 1 });
    try {
      const [first] = nsup.listeningPids();
      const before = await childrenOf(nsup, mark, [first!]);
      expect(before).toHaveLength(4);
      await get(port, '/crash').catch(() => null);
      const exit = await nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === first, 'crash');
      expect(exit.code).toBe(1);
      // Only the marked ones are found after a crash: the scrubbed child was not seen by a drain snapshot.
      const marked = before.slice(0, 3);
      expect(await gone(marked)).toEqual([]);
      await nsup.waitForCount(listening, 2, 'replacement listening');
      const second = nsup.listeningPids()[0]!;
      const after = await childrenOf(nsup, mark, [second]);
      expect(after.filter(alive)).toHaveLength(4);
      process.kill(second, 'SIGKILL');
      await nsup.waitFor((e) => e.event === 'worker.exit' && e.pid === second && e.signal === 'SIGKILL', 'SIGKILL exit');
      expect(await gone(after.slice(0, 3))).toEqual([]);
      // What is left of the scrubbed children (found by no mark) is killed by afterEach.
      expect(await stopNsup(nsup)).toBe(0);
    } finally {
      project.dispose();
    }
  });

  it('a child that ignores SIGTERM is SIGKILLed after killTimeout, and the stop waits for it', async () => {
    const { nsup, mark, project } = await start({ instances: 1, killTimeout: '1s', shell: "trap '' TERM; sleep 300 & wait" });
    try {
      const children = await childrenOf(nsup, mark, nsup.listeningPids());
      const stopAt = Date.now();
      expect(await stopNsup(nsup)).toBe(0);
      const tookMs = Date.now() - stopAt;
      expect(children.filter(alive)).toEqual([]);
      const kill = nsup.events.find((e) => leftovers(e) && e.signal === 'SIGKILL');
      expect(kill, JSON.stringify(nsup.events.filter(leftovers))).toBeDefined();
      // The shell and its sleep ignored SIGTERM (an ignored signal stays ignored across exec).
      expect((kill!.pids as number[]).length).toBe(2);
      expect(tookMs).toBeGreaterThanOrEqual(1000);
    } finally {
      project.dispose();
    }
  });

  it('a stop without children exits 0 promptly and logs no leftovers', async () => {
    const port = await freePort();
    const nsup = startNsup(['start', `${FIXTURES}http-ok.js`, '-i', '2', '--env', `PORT=${port}`]);
    await nsup.waitForCount(listening, 2, 'listening workers');
    const stopAt = Date.now();
    expect(await stopNsup(nsup)).toBe(0);
    // Draining two idle workers and one /proc scan each: well under a second (the killTimeout is 5 s).
    expect(Date.now() - stopAt).toBeLessThan(2000);
    expect(nsup.events.filter(leftovers)).toEqual([]);
  });
});
